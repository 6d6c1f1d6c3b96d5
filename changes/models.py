"""Change events: deployments, config and infrastructure changes, manual hotfixes."""

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL

from pipelines.models import DeploymentPipeline
from teams.models import Component, Team


class ChangeEventQuerySet(models.QuerySet["ChangeEvent"]):
    def bulk_create(self, objs, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        objs = list(objs)
        for change in objs:
            change.fill_span()
        return super().bulk_create(objs, *args, **kwargs)

    def insert_new(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str, str]]:
        """Insert changes given as {field attname: value}, a field left out taking its default
        and the span filled as `save` fills it, skipping each row that a unique constraint
        already holds: an idempotency key or identity stored before, or by a concurrent
        transaction (the insert waits for its commit). Returns (id, idempotency key, identity)
        of each row inserted, in the order given.

        One statement on PostgreSQL whatever the number of rows, with two parameters: what the
        rows have in common and what each has of its own, as JSON documents encoded in C and
        read by PostgreSQL as rows of the table's own type (jsonb_populate_recordset), where
        Django's bulk_create would prepare each of the 20,000-odd values of 1,000 rows in
        Python. Elsewhere (SQLite) Django's multi-row inserts, as many as its parameter limit
        needs. Whoever inserts keyed rows that others may insert too sorts them by key: two
        transactions then wait for each other's keys in one order, and never deadlock.
        """
        if not rows:
            return []
        meta = self.model._meta
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        # Every field in every row: jsonb_populate_recordset would read a missing one as NULL.
        defaults = {field.attname: field.get_default() for field in fields}
        rows = [_fill_span(self.model, {**defaults, **row}) for row in rows]
        connection = connections[self.db]
        returned = [meta.pk, meta.get_field("idempotency_key"), meta.get_field("identity")]
        if connection.vendor != "postgresql":
            objs = [self.model(**row) for row in rows]
            size = connection.ops.bulk_batch_size(fields, objs) or len(objs)
            inserted = []
            for start in range(0, len(objs), size):
                inserted += self._insert(
                    objs[start : start + size],
                    fields=fields,
                    returning_fields=returned,
                    on_conflict=OnConflict.IGNORE,
                )
            return [tuple(row) for row in inserted if row]  # an ignored single row: None
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        columns = ", ".join(quote(field.column) for field in fields)
        # The model's own table and column names, quoted; the rows go as the parameters.
        returning = ", ".join(quote(field.column) for field in returned)
        # What every row has in common (its pipeline, its received time, empty fields) goes
        # once, as the record each row's own values are laid over; both keyed by column.
        column = {field.attname: field.column for field in fields}
        shared = {column[name]: rows[0][name] for name in column if _same_in_all(rows, name)}
        own = [(name, column[name]) for name in column if column[name] not in shared]
        sql = (
            f"INSERT INTO {table} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM jsonb_populate_recordset("
            f"jsonb_populate_record(NULL::{table}, %s::jsonb), %s::jsonb) "
            f"ON CONFLICT DO NOTHING RETURNING {returning}"
        )
        write_time = _time_writer()
        document = [{key: row[name] for name, key in own} for row in rows]
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [json.dumps(shared, default=write_time), json.dumps(document, default=write_time)],
            )
            return [tuple(row) for row in cursor.fetchall()]

    def logical(self) -> "ChangeEventQuerySet":
        """One row per logical change: reports grouped under another change are left out."""
        return self.filter(same_as=None)


class ChangeEvent(models.Model):
    """One change of one pipeline: a lifecycle with one identity, in canonical form.

    A rollout may be reported several times (started, then succeeded or failed): the reports
    with the same `identity` update one row, and `events` keeps each of them. `started_at` is
    its start, `finished_at` its end (empty while it runs), `occurred_at` the time of its
    latest state (the finish once finished). Correlation measures from `started_at`.
    `component` is the normalised name as sent; `resolved_component` the catalog entry it means.

    The same rollout reported by another pipeline too is a row of that pipeline, grouped under
    the first one by `same_as` (see changes.grouping): the logical change is the row whose
    `same_as` is empty, and only it is shown, counted and correlated.
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
        CANCELLED = "cancelled", "Cancelled"

    # The outcomes a rollout ends with; `started` is the only one that is not an end.
    FINAL_OUTCOMES = frozenset(("succeeded", "failed", "cancelled"))
    ROLLED_BACK = "rolled_back"

    occurred_at = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    component = models.CharField(max_length=200, blank=True)
    resolved_component = models.ForeignKey(
        Component,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
        db_index=False,  # change_rcomponent_time_idx leads with it
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
        DeploymentPipeline,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
        db_index=False,  # change_pipeline_time_idx leads with it
    )
    # The team the change counts for (changes.ownership.change_team_id): its pipeline's, or for
    # a change without one (a manual change) its component's owner. Stored, so that filtering
    # by team is one index range; rewritten by a task when ownership changes.
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
        db_index=False,  # change_team_time_idx leads with it
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="manual_changes",
        db_index=False,  # a partial index below: only hand-entered changes have one
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    # The producer's own id of what changed (a GitHub deployment, a CodePipeline execution):
    # its later reports update this row. Empty for producers that report a change once.
    identity = models.CharField(max_length=300, blank=True)
    # Each report that told us, oldest first: {"outcome", "at", "received_at", "key",
    # "event_id", "event_type"}. Empty for a change reported once, with neither an identity nor
    # a body id (`transitions` stands in for it).
    events = models.JSONField(default=list, blank=True)
    same_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="also_reported",
        db_index=False,  # a partial index below: almost every row is null
    )
    rolled_back_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rolled_back_changes",
        db_index=False,
    )
    # Set when correlation has seen this change; the sweep picks up the ones left null.
    correlated_at = models.DateTimeField(null=True, blank=True)

    objects = ChangeEventQuerySet.as_manager()

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("pipeline", "idempotency_key"),
                condition=~models.Q(idempotency_key=""),
                name="uniq_change_idempotency_per_pipeline",
            ),
            models.UniqueConstraint(
                fields=("pipeline", "identity"),
                condition=~models.Q(identity=""),
                name="uniq_change_identity_per_pipeline",
            ),
        )
        indexes = (
            # The feed and keyset pagination: newest first, id breaks ties. The start rides
            # along for correlation, which asks for spans meeting a window: PostgreSQL checks
            # it in the index instead of fetching every row that ended after the window opened.
            models.Index(fields=("-occurred_at", "-id", "started_at"), name="change_time_idx"),
            models.Index(fields=("component", "-occurred_at"), name="change_component_time_idx"),
            models.Index(
                fields=("resolved_component", "-occurred_at"), name="change_rcomponent_time_idx"
            ),
            models.Index(fields=("pipeline", "-occurred_at"), name="change_pipeline_time_idx"),
            # "Deployments, by team": the team's newest first, as the feed pages them.
            models.Index(fields=("team", "-occurred_at", "-id"), name="change_team_time_idx"),
            # "Failed in 7 d", "rollbacks": rare values, which the time index alone would scan
            # past thousands of rows to find.
            models.Index(fields=("outcome", "-occurred_at", "-id"), name="change_outcome_time_idx"),
            models.Index(fields=("kind", "-occurred_at", "-id"), name="change_kind_time_idx"),
            models.Index(
                fields=("received_at",),
                condition=models.Q(correlated_at__isnull=True),
                name="change_uncorrelated_idx",
            ),
            models.Index(
                fields=("same_as",),
                condition=models.Q(same_as__isnull=False),
                name="change_same_as_idx",
            ),
            models.Index(
                fields=("author",),
                condition=models.Q(author__isnull=False),
                name="change_author_idx",
            ),
            models.Index(
                fields=("rolled_back_by",),
                condition=models.Q(rolled_back_by__isnull=False),
                name="change_rolled_back_by_idx",
            ),
        )

    def __str__(self) -> str:
        return f"{self.component or 'change'} {self.kind} {self.outcome} at {self.occurred_at:%c}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.fill_span()
        super().save(*args, **kwargs)

    def fill_span(self) -> None:
        """A change reported once is an instant: it starts, and ends unless it is running, when
        it occurred."""
        if self.started_at is None:
            self.started_at = self.occurred_at
        if self.finished_at is None and self.outcome in self.FINAL_OUTCOMES:
            self.finished_at = self.occurred_at

    @property
    def status(self) -> str:
        """started, succeeded, failed, cancelled, or rolled_back once a rollback undid it."""
        return self.ROLLED_BACK if self.rolled_back_by_id else self.outcome

    @property
    def is_running(self) -> bool:
        return self.outcome == self.Outcome.STARTED

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None

    def rolling_out_at(self, moment: datetime) -> bool:
        """Started by `moment` and not finished before it."""
        return self.started_at <= moment and (
            self.finished_at is None or self.finished_at >= moment
        )

    @property
    def transitions(self) -> list[dict]:
        """The reports of this change, oldest first; one for a change reported once."""
        if self.events:
            return self.events
        return [
            {
                "outcome": self.outcome,
                "at": self.occurred_at.isoformat(),
                "received_at": self.received_at.isoformat() if self.received_at else None,
                "key": self.idempotency_key,
            }
        ]


def _fill_span(model: type["ChangeEvent"], row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the span ChangeEvent.fill_span gives a change reported once."""
    if row.get("started_at") is None:
        row["started_at"] = row["occurred_at"]
    if row.get("finished_at") is None:
        final = row.get("outcome") in model.FINAL_OUTCOMES
        row["finished_at"] = row["occurred_at"] if final else None
    return row


def _same_in_all(rows: Sequence[Mapping[str, Any]], name: str) -> bool:
    """Whether every row has the same value of `name`, of the same type (JSON tells true from
    1, Python does not), and, for a list or object, an empty one."""
    first = rows[0][name]
    kind = type(first)
    if kind is list or kind is dict:
        return not first and all(type(row[name]) is kind and not row[name] for row in rows)
    return all(type(row[name]) is kind and row[name] == first for row in rows)


def _time_writer() -> Callable[[Any], str]:
    """json.dumps' `default` for a document of rows: times as PostgreSQL reads them, to the
    microsecond, each written once (a batch's rows share their received time, and mostly
    their other times)."""
    written: dict[datetime, str] = {}

    def write(value: Any) -> str:
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        text = written.get(value)
        if text is None:
            text = written[value] = value.isoformat()
        return text

    return write


def search_text(*, indexed: bool = True) -> RawSQL:
    """The searched fields as one text, exactly as the trigram index of migration 0002 has
    them (upper-cased by `icontains`): PostgreSQL uses the index only for this expression.

    `indexed=False` gives the same text as an expression the index does not match, for a
    search bounded in time: PostgreSQL then walks the time index over the bound, instead of
    ANDing the trigram index's rows for a common word (700,000 of a million) with it."""
    table = ChangeEvent._meta.db_table
    columns = ("summary", "description", "version", "component", "commit")
    text = " || ' ' || ".join(f'"{table}"."{column}"' for column in columns)
    return RawSQL(  # noqa: S611 - fixed column names, no input
        text if indexed else f"({text}) || ''", (), output_field=models.TextField()
    )
