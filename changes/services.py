"""Writes for change events."""

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from changes import lifecycle
from changes.adapters import generic
from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent
from changes.ownership import change_team_id, refresh_manual_change_teams
from common.cache import claim, release
from common.rows import cursor, durable_statement, insert_rows, load_row, select_list
from pipelines.deliveries import record_delivery
from pipelines.exceptions import IntegrationDisabled
from pipelines.models import Delivery, DeploymentPipeline
from teams.components import (
    forget_catalog,
    normalise_component_name,
    resolve_component_id,
    resolve_components,
)
from teams.models import Component

# What record_change says a report was.
RECORDED, UPDATED, DUPLICATE = "recorded", "updated", "duplicate"
# What Settings' test event names, in the delivery log and in the change it would record.
TEST_EVENT_TYPE = "test"
TEST_COMPONENT = "whatchanged-test"
# CanonicalChange fields that describe the request, not the change.
_NOT_STORED = {"event_type", "branch", "event_id", "started_at", "repeat_reason"}
# What a later report of a change may change.
UPDATED_FIELDS = (
    *lifecycle.TEXT_FIELDS,
    "component",
    "resolved_component",
    "team",
    "kind",
    "outcome",
    "occurred_at",
    "started_at",
    "finished_at",
    "links",
    "metadata",
    "events",
    "correlated_at",
)
_STORED = tuple(
    field.name for field in dataclasses.fields(CanonicalChange) if field.name not in _NOT_STORED
)

# The most changes record_changes takes at once: the batch API's limit. One multi-row INSERT
# of this many rows stays well inside PostgreSQL's 65,535 parameters per statement.
MAX_BATCH_SIZE = 1000
# Set while a correlation of new changes is queued (request_correlation). Should the message be
# lost, the request expires and the next change asks again; the periodic sweep also catches up.
CORRELATION_REQUESTED = "correlation:changes-requested"
CORRELATION_REQUEST_SECONDS = 30


def record_change(
    *,
    pipeline: DeploymentPipeline | None,
    change: CanonicalChange,
    received_at: datetime | None = None,
    author: AbstractBaseUser | None = None,
    delivery: Delivery | None = None,
) -> tuple[ChangeEvent, str]:
    """Store one report of a change, and say what it was: `recorded` (a new change),
    `updated` (a later report of a change known by its identity) or `duplicate` (a redelivery:
    the same idempotency key, or the same id in the producer's body). After commit, a new or
    updated change is handed to correlation.

    `delivery`: the request's delivery record should the change be `recorded`, stored then in
    the same statement as the change, its object_id the change's (its pk says it was stored).
    """
    received_at = received_at or timezone.now()
    if change.identity and pipeline is not None:
        return _record_report(
            pipeline=pipeline, change=change, received_at=received_at, delivery=delivery
        )
    fields = _stored_fields(change, received_at)
    component_id = resolve_component_id(fields["component"])
    event = ChangeEvent(
        **fields,
        pipeline=pipeline,
        received_at=received_at,
        author=author,
        resolved_component_id=component_id,
        team_id=change_team_id(pipeline=pipeline, component_id=component_id),
    )
    try:
        _insert(event, delivery)
    except IntegrityError:
        # The unique (pipeline, idempotency key) constraint: a redelivery, or a concurrent twin
        # that committed first. Its row is the answer. One statement in the common case, rather
        # than get_or_create's SELECT, SAVEPOINT, INSERT, RELEASE.
        first = (
            ChangeEvent.objects.filter(pipeline=pipeline, idempotency_key=change.idempotency_key)
            .exclude(idempotency_key="")
            .first()
        )
        if first is not None:
            return first, DUPLICATE
        # Not a twin: the cached catalog named a component deleted since, or the cached
        # pipeline a team deleted since, and a foreign key failed at commit. Once more, with
        # the catalog and the team read afresh.
        forget_catalog()
        event.pk = None
        event.resolved_component_id = resolve_component_id(fields["component"])
        event.team_id = change_team_id(
            pipeline=pipeline, component_id=event.resolved_component_id, fresh=True
        )
        _insert(event, delivery)
    return event, RECORDED


def _insert(event: ChangeEvent, delivery: Delivery | None) -> None:
    """The change, and its delivery record when given, in one statement that commits on its
    own: 2xx means committed, so nobody may wrap this in a transaction (durable_statement)."""
    with durable_statement():
        event.fill_span()
        if delivery is None:
            insert_rows(event)
        else:
            insert_rows(event, delivery, links=[(delivery, "object_id", event)])
    # pipeline.last_event_at is noted by the ingest view after commit (touch_last_event):
    # updating that one row inside every transaction would serialise concurrent ingests.
    transaction.on_commit(request_correlation, robust=True)


def _record_report(
    *,
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    delivery: Delivery | None = None,
) -> tuple[ChangeEvent, str]:
    """A report of a change with an identity: the first creates it, later ones update it.

    Reports of one change may arrive at the same instant (a producer retrying, two of its
    workers): the row is locked while a report is applied, and when two first reports race,
    the unique (pipeline, identity) index lets one insert and the other applies itself to it.
    """
    for attempt in range(3):
        # Resolved before the transaction, where the cached catalog may answer.
        component_id = resolve_component_id(normalise_component_name(change.component))
        try:
            return _apply_report(
                pipeline=pipeline,
                change=change,
                received_at=received_at,
                component_id=component_id,
                fresh=attempt > 0,
                delivery=delivery,
            )
        except IntegrityError:
            # A twin inserted the identity first (applied on the next try), or the cached
            # catalog named a component deleted since, or the cached pipeline a team deleted
            # since: the catalog and the team are read afresh.
            forget_catalog()
            if delivery is not None:
                delivery.pk = None  # rolled back with the change
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def _apply_report(
    *,
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    component_id: int | None,
    fresh: bool,
    delivery: Delivery | None,
) -> tuple[ChangeEvent, str]:
    return _apply_report_locked(
        pipeline=pipeline,
        change=change,
        received_at=received_at,
        component_id=component_id,
        fresh=fresh,
        delivery=delivery,
    )


def _apply_report_locked(
    *,
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    component_id: int | None,
    fresh: bool = False,
    delivery: Delivery | None = None,
) -> tuple[ChangeEvent, str]:
    """Apply one report under the change's row lock; `component_id` is what the report's
    component resolves to. `fresh`: the pipeline's team is read from the database.
    `delivery`: stored with a new change, as record_change does."""
    # A later report re-states the team too: the pipeline's now.
    team_id = change_team_id(pipeline=pipeline, component_id=component_id, fresh=fresh)
    event = _locked_change(pipeline, change.identity)
    if event is None:
        fields = _stored_fields(change, received_at)
        event = ChangeEvent(
            **fields,
            pipeline=pipeline,
            received_at=received_at,
            resolved_component_id=component_id,
            team_id=team_id,
        )
        event.fill_span()
        if delivery is None:
            insert_rows(event)
        else:  # the change and its delivery record in one statement
            insert_rows(event, delivery, links=[(delivery, "object_id", event)])
        transaction.on_commit(request_correlation, robust=True)
        return event, RECORDED
    if lifecycle.is_repeat(event, change):
        return event, DUPLICATE
    lifecycle.apply_report(
        event, change, at=change.occurred_at or received_at, received_at=received_at
    )
    if change.component:
        event.component = normalise_component_name(change.component)
        event.resolved_component_id = component_id
    event.team_id = team_id
    event.correlated_at = None  # correlated again, with its new span and outcome
    event.save(update_fields=UPDATED_FIELDS)
    transaction.on_commit(request_correlation, robust=True)
    return event, UPDATED


def _locked_change(pipeline: DeploymentPipeline, identity: str) -> ChangeEvent | None:
    """The pipeline's change of this identity, locked (FOR UPDATE), or None. Written out: the
    ORM would spend longer building the statement than the database running it."""
    with cursor() as read:
        read.execute(_locked_change_sql(), [pipeline.pk, identity])
        row = read.fetchone()
    return None if row is None else load_row(ChangeEvent, row)


@cache
def _locked_change_sql() -> str:
    return (
        f"SELECT {select_list(ChangeEvent, 'c')} FROM changes_changeevent c "  # noqa: S608 (columns)
        "WHERE c.pipeline_id = %s AND c.identity = %s LIMIT 1"
        + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    )


def request_correlation() -> None:
    """Ask the worker to correlate the changes committed so far, unless it is asked already.

    One message for a burst of changes, not one each: the worker takes every change waiting
    when it starts (incidents.correlate_pending_changes, which clears the request first). By
    name: changes may not import incidents. Broker down: logged (robust on_commit), the
    events are stored, and the periodic sweep correlates them later.
    """
    if claim(CORRELATION_REQUESTED, CORRELATION_REQUEST_SECONDS):
        try:
            current_app.signature("incidents.correlate_pending_changes").delay()
        except Exception:
            take_correlation_request()  # not asked after all: the next change tries again
            raise


def take_correlation_request() -> None:
    """For the worker, before it reads the waiting changes: later ones must ask again."""
    release(CORRELATION_REQUESTED)


def record_changes(
    *,
    pipeline: DeploymentPipeline,
    changes: Sequence[CanonicalChange],
    received_at: datetime | None = None,
) -> list[tuple[int, str]]:
    """Store a batch of a pipeline's changes, each once, in one transaction and as many
    statements for 1,000 changes as for one: their components in one query, the new ones in
    one insert (on PostgreSQL; SQLite splits long inserts), and the rows of the keys stored
    before in one more when there are any; reports of changes known by identity take two
    more, to read and lock the changes stored already and to update them. Returns (id, status)
    per change, in order, the status as record_change's.

    Idempotent like record_change: a change whose key is already stored, or appeared earlier in
    the batch, gets the first row's id and `duplicate`. Changes without a key are always new.
    After commit, the batch is handed to correlation once.
    """
    if len(changes) > MAX_BATCH_SIZE:
        raise ValueError(f"at most {MAX_BATCH_SIZE} changes per batch, got {len(changes)}")
    received_at = received_at or timezone.now()
    try:
        return _record_batch(pipeline, changes, received_at, fresh=False)
    except IntegrityError:
        # A foreign key failed at commit: the cached pipeline named a team deleted since, or a
        # component went while the batch was written. Nothing was kept: once more, afresh.
        return _record_batch(pipeline, changes, received_at, fresh=True)


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def _record_batch(
    pipeline: DeploymentPipeline,
    changes: Sequence[CanonicalChange],
    received_at: datetime,
    *,
    fresh: bool,
) -> list[tuple[int, str]]:
    fields = [_stored_fields(change, received_at) for change in changes]
    component_ids = _component_ids({row["component"] for row in fields})
    # Every change of a batch has its pipeline, whose team it counts for: one team.
    team_id = change_team_id(pipeline=pipeline, component_id=None, fresh=fresh)
    rows = [
        _batch_row(
            row,
            pipeline=pipeline,
            received_at=received_at,
            component_id=component_ids.get(row["component"]),
            team_id=team_id,
        )
        for row in fields
    ]
    reports = _ReportsInBatch(pipeline, changes, rows, received_at, fresh=fresh)
    reports.apply()
    first: dict[str, int] = {}  # idempotency key -> the index of its first change
    unkeyed: list[int] = []
    for index, change in enumerate(changes):
        if change.identity:
            continue
        if not change.idempotency_key:
            unkeyed.append(index)
        elif change.idempotency_key not in first:
            first[change.idempotency_key] = index
    # One insert for every new change: those first reported now, by identity, then the keyed
    # ones, each sorted, so that two batches take the unique indexes' locks in the same order
    # and cannot deadlock. A key or identity stored before is skipped (ON CONFLICT DO
    # NOTHING), as is one that a concurrent request is inserting, once it commits.
    inserted = ChangeEvent.objects.insert_new(
        [*reports.new_rows(), *(rows[first[key]] for key in sorted(first))]
        + [rows[index] for index in unkeyed]
    )
    new_ids = {key: change_id for change_id, key, identity in inserted if key and not identity}
    unkeyed_ids = iter(
        change_id for change_id, key, identity in inserted if not key and not identity
    )
    results = reports.results(
        {identity: change_id for change_id, _, identity in inserted if identity}
    )
    stored_ids = dict(new_ids)
    if len(new_ids) < len(first):
        # The rows that have the skipped keys: a redelivery, or a concurrent twin's.
        skipped = [key for key in first if key not in new_ids]
        stored_ids.update(_with_keys(pipeline, skipped).values_list("idempotency_key", "id"))
    answers: list[tuple[int, str]] = []
    for index, change in enumerate(changes):
        key = change.idempotency_key
        if index in results:
            answers.append(results[index])
        elif not key:
            answers.append((next(unkeyed_ids), RECORDED))
        else:
            # Only the first change of a new key is recorded; its twins later in the batch
            # are duplicates of it.
            recorded = key in new_ids and first[key] == index
            answers.append((stored_ids[key], RECORDED if recorded else DUPLICATE))
    if any(status != DUPLICATE for _, status in answers):
        transaction.on_commit(request_correlation, robust=True)
    return answers


class _ReportsInBatch:
    """The reports of a batch that name their change by identity, applied as record_change
    applies one, in a constant number of statements: the changes they name that are stored
    already are read and locked in one query (in identity order, as two batches lock them),
    updated in memory report by report, in the batch's order, and written back in one UPDATE;
    a change first reported now is built from its first report, updated by the later ones,
    and inserted with the batch's new changes. Should a concurrent request insert one of those
    first (the insert skips it), its reports are applied one by one to the row it stored.
    """

    def __init__(
        self,
        pipeline: DeploymentPipeline,
        changes: Sequence[CanonicalChange],
        rows: list[dict[str, Any]],
        received_at: datetime,
        *,
        fresh: bool,
    ) -> None:
        self.pipeline, self.changes, self.rows = pipeline, changes, rows
        self.received_at, self.fresh = received_at, fresh
        self.indexes = [index for index, change in enumerate(changes) if change.identity]
        self.stored: dict[str, ChangeEvent] = {}  # identity -> its change stored before
        self.new: dict[str, ChangeEvent] = {}  # identity -> the change first reported now
        self.statuses: dict[int, str] = {}

    def apply(self) -> None:
        """Lock the stored changes, apply every report, and write the stored ones back."""
        identities = sorted({self.changes[index].identity for index in self.indexes})
        if not identities:
            return
        locked = (
            ChangeEvent.objects.select_for_update()
            .filter(pipeline=self.pipeline, identity__in=identities)
            .order_by("identity")
        )
        self.stored = {event.identity: event for event in locked}
        updated: dict[str, ChangeEvent] = {}
        for index in self.indexes:
            change, row = self.changes[index], self.rows[index]
            event = self.stored.get(change.identity) or self.new.get(change.identity)
            if event is None:
                self.new[change.identity] = ChangeEvent(**row)
                self.statuses[index] = RECORDED
            elif lifecycle.is_repeat(event, change):
                self.statuses[index] = DUPLICATE
            else:
                _apply_report_in_memory(event, change, row, self.received_at)
                if change.identity in self.stored:
                    updated[change.identity] = event
                self.statuses[index] = UPDATED
        if updated:
            ChangeEvent.objects.bulk_update(updated.values(), UPDATED_FIELDS)

    def new_rows(self) -> list[dict[str, Any]]:
        """The rows of the changes first reported now, sorted by identity."""
        columns = [field.attname for field in ChangeEvent._meta.concrete_fields]
        return [
            {name: getattr(self.new[identity], name) for name in columns if name != "id"}
            for identity in sorted(self.new)
        ]

    def results(self, inserted: dict[str, int]) -> dict[int, tuple[int, str]]:
        """(id, status) per report, by index, given the ids of the new changes inserted."""
        results: dict[int, tuple[int, str]] = {}
        for index in self.indexes:
            identity = self.changes[index].identity
            if identity in self.stored:
                results[index] = (self.stored[identity].pk, self.statuses[index])
            elif identity in inserted:
                results[index] = (inserted[identity], self.statuses[index])
        # Lost to a concurrent request: applied to its row, report by report, identity order.
        for index in sorted(
            (index for index in self.indexes if index not in results),
            key=lambda index: self.changes[index].identity,
        ):
            results[index] = _report_in_batch(
                self.pipeline, self.changes[index], self.received_at, self.rows[index], self.fresh
            )
        return results


def _apply_report_in_memory(
    event: ChangeEvent, change: CanonicalChange, row: dict[str, Any], received_at: datetime
) -> None:
    """One more report of `event`, as _apply_report_locked applies it, not saved; `row` is
    the report's own columns (its component resolved, its team)."""
    lifecycle.apply_report(
        event, change, at=change.occurred_at or received_at, received_at=received_at
    )
    if change.component:
        event.component = row["component"]
        event.resolved_component_id = row["resolved_component_id"]
    event.team_id = row["team_id"]
    event.correlated_at = None  # correlated again, with its new span and outcome


def _batch_row(
    fields: dict[str, Any],
    *,
    pipeline: DeploymentPipeline,
    received_at: datetime,
    component_id: int | None,
    team_id: int | None,
) -> dict[str, Any]:
    """The columns of one change of a batch, as ChangeEvent.objects.insert_new takes them:
    whatever a batch stores beside the change's own fields is set here, once per row, as
    record_change sets it."""
    return {
        **fields,
        "pipeline_id": pipeline.pk,
        "received_at": received_at,
        "resolved_component_id": component_id,
        "team_id": team_id,
    }


def _component_ids(names: set[str]) -> dict[str, int]:
    """{name: catalog component id} for the (normalised) names the catalog knows, by name or
    alias, in one query for a whole batch."""
    names.discard("")
    if not names:
        return {}
    ids: dict[str, int] = {}
    matches = Component.objects.filter(Q(name__in=names) | Q(aliases__name__in=names))
    for component_id, name, alias in matches.values_list("id", "name", "aliases__name"):
        if alias in names:
            ids.setdefault(alias, component_id)
        if name in names:
            ids[name] = component_id  # a component's own name before another's alias
    return ids


def _report_in_batch(
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    row: dict[str, Any],
    fresh: bool,
) -> tuple[int, str]:
    """A report with an identity, alone, inside the batch's transaction: a savepoint, so that
    losing a race for the identity to a concurrent request retries instead of failing the
    batch. `row`: the report's columns, as the batch built them."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                event, status = _apply_report_locked(
                    pipeline=pipeline,
                    change=change,
                    received_at=received_at,
                    component_id=row["resolved_component_id"],
                    fresh=fresh,
                )
                return event.pk, status
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _with_keys(pipeline: DeploymentPipeline, keys: Iterable[str]) -> QuerySet[ChangeEvent]:
    # `<> ''` spelled out: PostgreSQL cannot prove it from an IN list longer than 100 by
    # itself, and without it the partial unique index on (pipeline, key) is not used.
    return ChangeEvent.objects.filter(pipeline=pipeline, idempotency_key__in=keys).exclude(
        idempotency_key=""
    )


def _stored_fields(change: CanonicalChange, received_at: datetime) -> dict[str, Any]:
    """The ChangeEvent columns a canonical change fills, as both record functions store them."""
    # Not dataclasses.asdict: its deep copy costs more than the rest, 1,000 times a batch.
    fields = {name: getattr(change, name) for name in _STORED}
    fields["component"] = normalise_component_name(change.component)
    fields["occurred_at"] = at = change.occurred_at or received_at
    fields["started_at"] = min(change.started_at or at, at)
    fields["finished_at"] = at if change.outcome in ChangeEvent.FINAL_OUTCOMES else None
    # A change reported once needs no list of its reports (ChangeEvent.transitions says it);
    # those with an identity or a body id keep each report, for updates and replays.
    fields["events"] = (
        [lifecycle.report_entry(change, at=at, received_at=received_at)]
        if change.identity or change.event_id
        else []
    )
    fields["links"] = [dict(link) for link in change.links]
    fields["metadata"] = dict(change.metadata)
    return fields


@transaction.atomic
def resolve_change_components(*, names: list[str]) -> int:
    """Point the changes recorded under these component names at the catalog entry they mean now.

    Run after aliases change. The manual ones among them count for their new component's
    owner team (changes.ownership). Idempotent; returns how many changes were updated.
    """
    resolved = resolve_components(names)
    updated = 0
    for name in set(names):  # one UPDATE per renamed name: a handful per config change
        component = resolved.get(name)
        updated += (
            ChangeEvent.objects.filter(component=name)
            .exclude(resolved_component=component)
            .update(resolved_component=component)
        )
    refresh_manual_change_teams(names={name: resolved.get(name) for name in set(names)})
    return updated


def send_test_change(*, pipeline: DeploymentPipeline, by: AbstractBaseUser) -> Delivery:
    """Settings' "Send test event": check that the pipeline would record a change, and log the
    check in its deliveries. Nothing else is written.

    The test change is read as the generic API reads a body and prepared as record_change
    prepares a report (the same normalisation, then the columns' checks), then dropped:
    a test is no change, so it must never reach the feed, correlation, Insights or a postmortem,
    and without a row there is nothing each of those would have to filter out. A disabled
    pipeline refuses it as its ingest would (403). Raises ValidationError should the prepared
    change not fit its columns.
    """
    received_at = timezone.now()
    username = by.get_username()
    body = {
        "component": TEST_COMPONENT,
        "environment": "test",
        "kind": ChangeEvent.Kind.OTHER.value,
        "summary": f"Test event sent from Settings by {username}",
        "triggered_by": username,
    }
    if pipeline.enabled:
        change = generic.to_canonical(body, {})
        event = ChangeEvent(**_stored_fields(change, received_at), received_at=received_at)
        # What the database would refuse. Not the keys: no row is stored to conflict or point.
        event.full_clean(validate_unique=False, validate_constraints=False)
        status_code, outcome = 200, Delivery.Outcome.ACCEPTED
        reason = (
            f'test event: would record "{event.summary}" ({event.kind}, {event.component} in '
            f"{event.environment}) — not added to the deployments feed"
        )
    else:
        status_code, outcome = IntegrationDisabled.status, Delivery.Outcome.REJECTED
        reason = f"test event: {IntegrationDisabled().message}"
    return record_delivery(
        integration=pipeline,
        received_at=received_at,
        event_type=TEST_EVENT_TYPE,
        status_code=status_code,
        outcome=outcome,
        reason=reason,
        body=json.dumps(body).encode(),
    )
