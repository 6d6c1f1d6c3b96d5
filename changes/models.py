"""Change events: deployments, config and infrastructure changes, manual hotfixes."""

from django.conf import settings
from django.db import models
from django.db.models.expressions import RawSQL

from pipelines.models import DeploymentPipeline
from teams.models import Component


class ChangeEvent(models.Model):
    """One change, as its producer reported it, in canonical form.

    `occurred_at` is the producer's time (else the time we received it); correlation uses it.
    `component` is the normalised name as sent; `resolved_component` the catalog entry it means.
    """

    class Kind(models.TextChoices):
        DEPLOYMENT = "deployment", "Deployment"
        ROLLBACK = "rollback", "Rollback"
        CONFIG = "config", "Config change"
        FEATURE_FLAG = "feature_flag", "Feature flag"
        INFRASTRUCTURE = "infrastructure", "Infrastructure"
        MANUAL = "manual", "Manual change"
        OTHER = "other", "Other"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        STARTED = "started", "Started"

    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    component = models.CharField(max_length=200, blank=True)
    resolved_component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    environment = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DEPLOYMENT)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCEEDED)
    summary = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=200, blank=True)
    commit = models.CharField(max_length=100, blank=True)
    links = models.JSONField(default=list, blank=True)  # [{"href": ..., "text": ...}]
    metadata = models.JSONField(default=dict, blank=True)
    pipeline = models.ForeignKey(
        DeploymentPipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="manual_changes",
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    # Set when correlation has seen this change; the sweep picks up the ones left null.
    correlated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("pipeline", "idempotency_key"),
                condition=~models.Q(idempotency_key=""),
                name="uniq_change_idempotency_per_pipeline",
            ),
        )
        indexes = (
            # The feed and keyset pagination: newest first, id breaks ties.
            models.Index(fields=("-occurred_at", "-id"), name="change_time_idx"),
            models.Index(fields=("component", "-occurred_at"), name="change_component_time_idx"),
            models.Index(
                fields=("resolved_component", "-occurred_at"), name="change_rcomponent_time_idx"
            ),
            models.Index(fields=("pipeline", "-occurred_at"), name="change_pipeline_time_idx"),
            # "Failed in 7 d", "rollbacks": rare values, which the time index alone would scan
            # past thousands of rows to find.
            models.Index(fields=("outcome", "-occurred_at", "-id"), name="change_outcome_time_idx"),
            models.Index(fields=("kind", "-occurred_at", "-id"), name="change_kind_time_idx"),
            models.Index(
                fields=("received_at",),
                condition=models.Q(correlated_at__isnull=True),
                name="change_uncorrelated_idx",
            ),
        )

    def __str__(self) -> str:
        return f"{self.component or 'change'} {self.kind} {self.outcome} at {self.occurred_at:%c}"


def search_text() -> RawSQL:
    """The searched fields as one text, exactly as the trigram index of migration 0002 has
    them (upper-cased by `icontains`): PostgreSQL uses the index only for this expression."""
    table = ChangeEvent._meta.db_table
    columns = ("summary", "description", "version", "component", "commit")
    return RawSQL(  # noqa: S611 - fixed column names, no input
        " || ' ' || ".join(f'"{table}"."{column}"' for column in columns),
        (),
        output_field=models.TextField(),
    )
