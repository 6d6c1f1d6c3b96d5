"""Writes for change events."""

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from changes import lifecycle
from changes.adapters import generic
from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent
from common.cache import claim, release
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
) -> tuple[ChangeEvent, str]:
    """Store one report of a change, and say what it was: `recorded` (a new change),
    `updated` (a later report of a change known by its identity) or `duplicate` (a redelivery:
    the same idempotency key, or the same id in the producer's body). After commit, a new or
    updated change is handed to correlation.
    """
    received_at = received_at or timezone.now()
    if change.identity and pipeline is not None:
        return _record_report(pipeline=pipeline, change=change, received_at=received_at)
    fields = _stored_fields(change, received_at)
    event = ChangeEvent(
        **fields,
        pipeline=pipeline,
        received_at=received_at,
        author=author,
        resolved_component_id=resolve_component_id(fields["component"]),
    )
    try:
        _insert(event)
    except IntegrityError:
        # The unique (pipeline, idempotency key) constraint: a redelivery, or a concurrent twin
        # that committed first. Its row is the answer. One INSERT in the common case, rather
        # than get_or_create's SELECT, SAVEPOINT, INSERT, RELEASE.
        first = (
            ChangeEvent.objects.filter(pipeline=pipeline, idempotency_key=change.idempotency_key)
            .exclude(idempotency_key="")
            .first()
        )
        if first is not None:
            return first, DUPLICATE
        # Not a twin: the cached catalog named a component deleted since, and its foreign
        # key failed at commit. Once more, with the catalog read afresh.
        forget_catalog()
        event.pk = None
        event.resolved_component_id = resolve_component_id(fields["component"])
        _insert(event)
    return event, RECORDED


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def _insert(event: ChangeEvent) -> None:
    event.save(force_insert=True)
    # pipeline.last_event_at is noted by the ingest view after commit (touch_last_event):
    # updating that one row inside every transaction would serialise concurrent ingests.
    transaction.on_commit(request_correlation, robust=True)


def _record_report(
    *, pipeline: DeploymentPipeline, change: CanonicalChange, received_at: datetime
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
            )
        except IntegrityError:
            # A twin inserted the identity first (applied on the next try), or the cached
            # catalog named a component deleted since: the catalog is read afresh.
            forget_catalog()
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
) -> tuple[ChangeEvent, str]:
    return _apply_report_locked(
        pipeline=pipeline, change=change, received_at=received_at, component_id=component_id
    )


def _apply_report_locked(
    *,
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    component_id: int | None,
) -> tuple[ChangeEvent, str]:
    """Apply one report under the change's row lock; `component_id` is what the report's
    component resolves to."""
    event = (
        ChangeEvent.objects.select_for_update()
        .filter(pipeline=pipeline, identity=change.identity)
        .first()
    )
    if event is None:
        fields = _stored_fields(change, received_at)
        event = ChangeEvent(
            **fields,
            pipeline=pipeline,
            received_at=received_at,
            resolved_component_id=component_id,
        )
        event.save(force_insert=True)
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
    event.correlated_at = None  # correlated again, with its new span and outcome
    event.save(update_fields=UPDATED_FIELDS)
    transaction.on_commit(request_correlation, robust=True)
    return event, UPDATED


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


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def record_changes(
    *,
    pipeline: DeploymentPipeline,
    changes: Sequence[CanonicalChange],
    received_at: datetime | None = None,
) -> list[tuple[int, str]]:
    """Store a batch of a pipeline's changes, each once, with as many queries for 1,000 changes
    as for one (on PostgreSQL; SQLite splits long inserts). Returns (id, status) per change, in
    order, the status as record_change's. Changes with an identity take a few queries each.

    Idempotent like record_change: a change whose key is already stored, or appeared earlier in
    the batch, gets the first row's id and `created` False. Changes without a key are always
    new. After commit, the new changes are handed to correlation, a chunk per message.
    """
    if len(changes) > MAX_BATCH_SIZE:
        raise ValueError(f"at most {MAX_BATCH_SIZE} changes per batch, got {len(changes)}")
    received_at = received_at or timezone.now()
    # Reports of changes with an identity update their change one by one, in identity order
    # (two batches lock shared changes in the same order); the rest go in two statements.
    rows = [_stored_fields(change, received_at) for change in changes]
    components = resolve_components([row["component"] for row in rows])
    reports = {
        index: _report_in_batch(
            pipeline, change, received_at, components.get(rows[index]["component"])
        )
        for index, change in sorted(
            ((index, change) for index, change in enumerate(changes) if change.identity),
            key=lambda item: item[1].identity,
        )
    }
    keyed: dict[str, ChangeEvent] = {}  # the first change of each key
    unkeyed: list[ChangeEvent] = []
    for change, row in zip(changes, rows, strict=True):
        key = change.idempotency_key
        if key in keyed or change.identity:
            continue
        event = ChangeEvent(
            **row,
            pipeline=pipeline,
            received_at=received_at,
            resolved_component=components.get(row["component"]),
        )
        if key:
            keyed[key] = event
        else:
            unkeyed.append(event)
    # Two inserts, because bulk_create returns primary keys only without ignore_conflicts:
    # - keyed changes skip the keys already stored (ON CONFLICT DO NOTHING, which also waits
    #   out a concurrent request inserting the same key), and their ids are read back by key.
    #   Sorted by key, so that two batches sharing keys take the unique index's locks in the
    #   same order and cannot deadlock.
    # - unkeyed changes never conflict (the unique constraint excludes ""): a plain insert,
    #   which returns their ids (PostgreSQL, and SQLite >= 3.35, with RETURNING).
    ids: dict[str, int] = {}  # idempotency key -> id of the row that has it
    created: set[int] = set()
    if keyed:
        ChangeEvent.objects.bulk_create(
            [keyed[key] for key in sorted(keyed)], ignore_conflicts=True
        )
        read_back = _with_keys(pipeline, keyed.keys()).values_list(
            "idempotency_key", "id", "received_at"
        )
        for key, change_id, row_received_at in read_back:
            ids[key] = change_id
            # A row received at another time was there before, or a concurrent request
            # committed it first and handed it to correlation itself: a duplicate. (Only a
            # twin received in the same microsecond would pass as ours, and be correlated
            # twice, which correlation tolerates.)
            if row_received_at == received_at:
                created.add(change_id)
    if unkeyed:
        ChangeEvent.objects.bulk_create(unkeyed)
        created.update(event.pk for event in unkeyed)
    results: list[tuple[int, str]] = []
    unkeyed_ids = iter(event.pk for event in unkeyed)
    for index, change in enumerate(changes):
        if index in reports:
            results.append(reports[index])
            continue
        key = change.idempotency_key
        change_id = ids[key] if key else next(unkeyed_ids)
        results.append((change_id, RECORDED if change_id in created else DUPLICATE))
        created.discard(change_id)  # a key's twins later in the batch are duplicates
    if any(status != DUPLICATE for _, status in results):
        transaction.on_commit(request_correlation, robust=True)
    return results


def _report_in_batch(
    pipeline: DeploymentPipeline,
    change: CanonicalChange,
    received_at: datetime,
    component: Component | None,
) -> tuple[int, str]:
    """A report with an identity, inside the batch's transaction: a savepoint, so that losing
    a race for the identity to a concurrent request retries instead of failing the batch."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                event, status = _apply_report_locked(
                    pipeline=pipeline,
                    change=change,
                    received_at=received_at,
                    component_id=component.pk if component else None,
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

    Run after aliases change. Idempotent; returns how many changes were updated.
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
