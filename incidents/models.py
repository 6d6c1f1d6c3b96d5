"""Incidents, what happened in them, and the changes suspected of causing them."""

from django.conf import settings
from django.db import models

from changes.models import ChangeEvent
from pipelines.models import AlertSource, Severity
from teams.models import Component, Team


class Incident(models.Model):
    """Alerts that need a human: the first alert, and those of its storm that joined it.

    `alias`, `title` and `severity` start as the first alert's; each alert keeps its own (Alert),
    and the title and severity follow the alerts that join ("HighErrorRate and 11 more").
    """

    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED)

    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.TRIGGERED)
    alias = models.CharField(max_length=255, blank=True)
    alert_source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    environment = models.CharField(max_length=100, blank=True)
    tags = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    last_alert_at = models.DateTimeField()
    repeat_count = models.PositiveIntegerField(default=0)
    # How many alerts the incident holds (its first included): the list shows it without a query.
    alert_count = models.PositiveIntegerField(default=1)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Resolved by a person (resolved_by) or by a rule ("source recovered", "quiet period").
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by_rule = models.CharField(max_length=100, blank=True)
    correlated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = (
            models.Index(fields=("status", "-started_at"), name="incident_status_started_idx"),
            models.Index(fields=("alert_source", "alias"), name="incident_source_alias_idx"),
            models.Index(fields=("-started_at", "-id"), name="incident_started_idx"),
            # The open ones, newest first: the deployments page's banner and the incidents list
            # read them on every view, among thousands resolved.
            models.Index(
                fields=("-started_at", "-id"),
                condition=models.Q(status__in=("triggered", "acknowledged")),
                name="incident_open_started_idx",
            ),
        )

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Alert(models.Model):
    """One alarm of an incident, with its own alias, title, severity and status.

    `alias` deduplicates: one firing alert per source and alias, whichever incident holds it.
    Its repeats and its resolve act on it alone; the incident resolves when all have resolved.
    """

    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Firing"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    alert_source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    alias = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=500)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.TRIGGERED)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("started_at", "id")
        constraints = (
            # Two alerts of one alias arriving at the same instant must still make one alert.
            models.UniqueConstraint(
                fields=("alert_source", "alias"),
                condition=models.Q(status="triggered") & ~models.Q(alias=""),
                name="uniq_firing_alert_per_source_alias",
            ),
        )
        indexes = (
            models.Index(fields=("alert_source", "alias"), name="alert_source_alias_idx"),
            models.Index(fields=("incident", "started_at"), name="alert_incident_started_idx"),
        )

    def __str__(self) -> str:
        return f"{self.alias or self.title} ({self.status})"

    @property
    def is_firing(self) -> bool:
        return self.status == self.Status.TRIGGERED


class IncidentComponent(models.Model):
    """A component an incident is about: the name as the alert gave it, and the catalog entry."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=200)
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("incident", "name"), name="uniq_incident_component"),
        )
        indexes = (models.Index(fields=("name",), name="incident_component_name_idx"),)

    def __str__(self) -> str:
        return self.name


class TimelineEntry(models.Model):
    """Something that happened to an incident, by whom (a user, the source, or a rule)."""

    class Kind(models.TextChoices):
        ALERT = "alert", "Alert"
        JOINED = "joined", "Alert joined"  # another alert of the storm joined the incident
        ALERT_RESOLVED = "alert_resolved", "Alert resolved"  # one of several alerts recovered
        REPEAT = "repeat", "Repeat"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        REOPENED = "reopened", "Reopened"
        NOTE = "note", "Note"
        STATUS = "status", "Status"
        VERDICT = "verdict", "Verdict"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=15, choices=Kind.choices)
    actor = models.CharField(max_length=200, blank=True)  # display name of user, source or rule
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("at", "id")
        verbose_name_plural = "timeline entries"
        indexes = (models.Index(fields=("incident", "at"), name="timeline_incident_at_idx"),)

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class SuspectChange(models.Model):
    """A change that may have caused an incident, with the score and reasons that rank it."""

    class Verdict(models.TextChoices):
        UNREVIEWED = "", "Not reviewed"
        CONFIRMED = "confirmed", "Confirmed cause"
        UNRELATED = "unrelated", "Not related"

    class Confidence(models.TextChoices):
        # A change of an incident component or of a direct dependency, in its environment,
        # before the alarm or rolling out at it.
        HIGH = "high", "High"
        # A dependency two or three hops away, another environment, or the team's other
        # components.
        MEDIUM = "medium", "Medium"
        # Only the time matches.
        LOW = "low", "Low"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="suspects")
    change = models.ForeignKey(ChangeEvent, on_delete=models.CASCADE, related_name="suspected_in")
    score = models.FloatField()
    rank = models.PositiveIntegerField()
    reasons = models.JSONField(default=list)
    confidence = models.CharField(
        max_length=6, choices=Confidence.choices, default=Confidence.LOW, blank=True
    )
    verdict = models.CharField(
        max_length=10, choices=Verdict.choices, default=Verdict.UNREVIEWED, blank=True
    )
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verdict_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("rank",)
        constraints = (
            models.UniqueConstraint(
                fields=("incident", "change"), name="uniq_suspect_per_incident"
            ),
        )
        # The incidents list reads each incident's top suspect: without it, one sort per row.
        indexes = (models.Index(fields=("incident", "rank"), name="suspect_incident_rank_idx"),)

    def __str__(self) -> str:
        return f"change {self.change_id} suspect #{self.rank} for incident {self.incident_id}"


class AlertReceipt(models.Model):
    """A producer message already processed (SNS MessageId, EventBridge event id).

    A redelivery of the same message answers what the first one did and changes nothing.
    """

    alert_source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=200)
    incident = models.ForeignKey(Incident, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20)
    received_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("alert_source", "idempotency_key"), name="uniq_alert_receipt"
            ),
        )

    def __str__(self) -> str:
        return f"{self.idempotency_key}: {self.action}"
