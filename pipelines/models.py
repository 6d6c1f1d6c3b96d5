"""The integrations events arrive through: deployment pipelines (changes) and alert sources."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from teams.models import Team

# Remembered signatures are kept two days (incidents.services.apply_retention): a tolerance of at
# most a day keeps every signed request refusable as a replay until it is refused as stale.
MAX_TIMESTAMP_TOLERANCE_SECONDS = 24 * 3600
TIMESTAMP_TOLERANCE_VALIDATORS = (
    MinValueValidator(1),
    MaxValueValidator(
        MAX_TIMESTAMP_TOLERANCE_SECONDS,
        message="At most %(limit_value)s seconds (a day): a signed request older than that "
        "could be replayed once its remembered signature is cleaned up.",
    ),
)


class Severity(models.TextChoices):
    """Incident severities, most urgent first. Alert sources default to one of them."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


class AuthMode(models.TextChoices):
    """How an integration's requests are authenticated. Which modes a kind allows, and its
    default, are in pipelines.kinds; pipelines.signatures enforces the mode on every endpoint."""

    SIGNATURE = "signature", "Signature required"
    KEY = "key", "Key only"


class Integration(models.Model):
    """What pipelines and alert sources share: a hashed integration key and a signing secret.

    Subclasses add `kind` and `team` (each with its own reverse name on Team).

    The key is random and shown once; only its SHA-256 and a short prefix are stored.
    The signing secret is kept in clear because HMAC verification needs it.
    """

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=16)
    secret = models.CharField(max_length=200, blank=True)
    # `signature`: every request carries a valid signature made with the secret; `key`: the key
    # alone lets it in.
    # db_default too: rows written without the field (older code, bulk loads) get the key alone.
    auth_mode = models.CharField(
        max_length=10, choices=AuthMode.choices, default=AuthMode.KEY, db_default=AuthMode.KEY
    )
    enabled = models.BooleanField(default=True)
    # Noise filters: record only these (empty list = everything).
    environments = models.JSONField(default=list, blank=True)
    branches = models.JSONField(default=list, blank=True)
    event_types = models.JSONField(default=list, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.Kind(self.kind).label})"

    @classmethod
    def from_db(cls, db: str, field_names: list[str], values: list) -> "Integration":
        instance = super().from_db(db, field_names, values)
        # The key as loaded: a rotation must also drop the old key's cached lookup.
        instance.loaded_key_hash = instance.__dict__.get("key_hash", "")
        return instance


class DeploymentPipeline(Integration):
    """Where change events come from: a CI/CD system, a script, a webhook."""

    class Kind(models.TextChoices):
        GENERIC = "generic", "Generic API (curl, Alert24, ilert)"
        GITHUB = "github", "GitHub webhook"
        GITLAB = "gitlab", "GitLab webhook"
        CODEPIPELINE = "codepipeline", "AWS CodePipeline (EventBridge)"
        PAGERDUTY = "pagerduty", "PagerDuty Change Events compatible"
        JENKINS = "jenkins", "Jenkins (Notification plugin)"
        FLUX = "flux", "Flux (notification-controller)"
        ARGOCD = "argocd", "Argo CD (notifications webhook)"
        TERRAFORM_CLOUD = "terraform_cloud", "HCP Terraform / Terraform Enterprise"
        LAUNCHDARKLY = "launchdarkly", "LaunchDarkly (webhook)"
        FLAGSMITH = "flagsmith", "Flagsmith (webhook)"
        UNLEASH = "unleash", "Unleash (webhook addon)"
        CDEVENTS = "cdevents", "CDEvents (CloudEvents)"

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="pipelines"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)


class AlertSource(Integration):
    """Where alerts come from; also holds the correlation and auto-resolve settings."""

    class Kind(models.TextChoices):
        GENERIC = "generic", "Incidents API (Alert24 compatible)"
        CLOUDWATCH_SNS = "cloudwatch_sns", "CloudWatch via SNS"
        EVENTBRIDGE = "eventbridge", "Amazon EventBridge"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", "Grafana alerting"
        WEBHOOK = "webhook", "Signed webhook"
        PAGERDUTY = "pagerduty", "PagerDuty Events v2 compatible"

    class InsufficientData(models.TextChoices):
        IGNORE = "ignore", "Ignore"
        RAISE = "raise", "Raise at medium severity"

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_sources"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    default_severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.HIGH
    )
    default_components = models.JSONField(default=list, blank=True)
    insufficient_data = models.CharField(
        max_length=10, choices=InsufficientData.choices, default=InsufficientData.IGNORE
    )
    window_minutes = models.PositiveIntegerField(default=60)
    skew_minutes = models.PositiveIntegerField(default=2)
    # Auto-resolve when no repeat arrives for this long; null = only the source resolves.
    quiet_period_minutes = models.PositiveIntegerField(null=True, blank=True)
    # An alert this soon after resolution reopens the incident instead of opening a new one.
    reopen_window_minutes = models.PositiveIntegerField(default=0)
    # An alert whose components meet those of an open incident of the same team that started
    # this many minutes before joins it. Empty: the kind's default (GROUP_WINDOW_DEFAULTS).
    group_window_minutes = models.PositiveIntegerField(null=True, blank=True)
    # How far a signed request's timestamp may be from our clock.
    timestamp_tolerance_seconds = models.PositiveIntegerField(
        default=300, validators=TIMESTAMP_TOLERANCE_VALIDATORS
    )
    # Confirm SNS subscriptions without an admin's click (only ever at an SNS endpoint).
    auto_confirm_subscriptions = models.BooleanField(default=False)

    @property
    def grouping_minutes(self) -> int:
        """The grouping window in force: the source's own, else its kind's default."""
        if self.group_window_minutes is not None:
            return self.group_window_minutes
        return GROUP_WINDOW_DEFAULTS.get(self.kind, 0)


# Sources that send alerts group a storm for 10 minutes; the Alert24-compatible incidents API
# does not (its clients create, find and resolve incidents themselves).
GROUP_WINDOW_DEFAULTS = {
    AlertSource.Kind.CLOUDWATCH_SNS: 10,
    AlertSource.Kind.EVENTBRIDGE: 10,
    AlertSource.Kind.ALERTMANAGER: 10,
    AlertSource.Kind.GRAFANA: 10,
    AlertSource.Kind.WEBHOOK: 10,
    AlertSource.Kind.PAGERDUTY: 10,
    AlertSource.Kind.GENERIC: 0,
}


class Delivery(models.Model):
    """What one request to an integration did: kept so admins can debug their producers.

    Capped per integration (see pipelines.deliveries); the payload is kept as received text,
    cut at PAYLOAD_LIMIT, and always rendered escaped.
    """

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        IGNORED = "ignored", "Ignored"
        REJECTED = "rejected", "Rejected"

    PAYLOAD_LIMIT = 64 * 1024

    pipeline = models.ForeignKey(
        DeploymentPipeline,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    alert_source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    received_at = models.DateTimeField()
    event_type = models.CharField(max_length=100, blank=True)
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    size = models.PositiveIntegerField()
    payload = models.TextField(blank=True)
    # What the request stored: a change or incident id, for a link from the log.
    object_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(pipeline__isnull=True) ^ models.Q(alert_source__isnull=True),
                name="delivery_has_one_integration",
            ),
        )
        indexes = (
            models.Index(fields=("pipeline", "-received_at"), name="delivery_pipeline_idx"),
            models.Index(fields=("alert_source", "-received_at"), name="delivery_source_idx"),
        )

    def __str__(self) -> str:
        return f"{self.event_type or 'request'} {self.status_code} {self.outcome}"


class SnsSubscription(models.Model):
    """An SNS SubscriptionConfirmation, kept for an admin to confirm (or confirmed by itself
    when the source allows it). Nothing is fetched when it arrives."""

    alert_source = models.ForeignKey(
        AlertSource, on_delete=models.CASCADE, related_name="sns_subscriptions"
    )
    topic_arn = models.CharField(max_length=300)
    subscribe_url = models.URLField(max_length=2000)
    message_id = models.CharField(max_length=100)
    received_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=150, blank=True)  # a username, or "auto-confirm"

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("alert_source", "topic_arn"), name="uniq_sns_subscription_per_topic"
            ),
        )

    def __str__(self) -> str:
        return self.topic_arn


class SeenSignature(models.Model):
    """Timestamped signatures already accepted, per integration: the same one twice is a replay.

    A row is kept while its request could still pass the timestamp check: the signed time may be
    up to the tolerance on either side of when it was seen (incidents.services.apply_retention).
    """

    pipeline = models.ForeignKey(
        DeploymentPipeline, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    alert_source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    signature = models.CharField(max_length=200)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("alert_source", "signature"), name="uniq_seen_signature"
            ),
            models.UniqueConstraint(
                fields=("pipeline", "signature"), name="uniq_seen_pipeline_signature"
            ),
            models.CheckConstraint(
                condition=models.Q(pipeline__isnull=True) ^ models.Q(alert_source__isnull=True),
                name="seen_signature_has_one_integration",
            ),
        )
        indexes = (models.Index(fields=("seen_at",), name="seen_signature_seen_at_idx"),)

    def __str__(self) -> str:
        return self.signature[:12]
