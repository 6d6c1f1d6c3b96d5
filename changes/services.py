"""Writes for change events."""

from dataclasses import asdict
from datetime import datetime

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent
from pipelines.deliveries import record_delivery
from pipelines.models import Delivery, DeploymentPipeline
from teams.components import normalise_component_name, resolve_component, resolve_components

# CanonicalChange fields that describe the request, not the change.
_NOT_STORED = {"event_type", "branch"}


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def record_change(
    *,
    pipeline: DeploymentPipeline | None,
    change: CanonicalChange,
    received_at: datetime | None = None,
    author: AbstractBaseUser | None = None,
) -> tuple[ChangeEvent, bool]:
    """Store a change once. A redelivery (same pipeline and idempotency key) gets the first row
    back and enqueues nothing. After commit, the change is handed to correlation.
    """
    received_at = received_at or timezone.now()
    fields = {k: v for k, v in asdict(change).items() if k not in _NOT_STORED}
    fields["component"] = normalise_component_name(change.component)
    fields["occurred_at"] = change.occurred_at or received_at
    fields["links"] = [dict(link) for link in change.links]
    fields["metadata"] = dict(change.metadata)
    defaults = {
        **fields,
        "received_at": received_at,
        "author": author,
        "resolved_component": resolve_component(fields["component"]),
    }
    if change.idempotency_key and pipeline is not None:
        # The unique constraint makes this race-safe: a concurrent twin gets the winner's row.
        event, created = ChangeEvent.objects.get_or_create(
            pipeline=pipeline, idempotency_key=change.idempotency_key, defaults=defaults
        )
    else:
        event, created = ChangeEvent.objects.create(pipeline=pipeline, **defaults), True
    if created:
        if pipeline is not None:
            DeploymentPipeline.objects.filter(pk=pipeline.pk).update(last_event_at=received_at)
        transaction.on_commit(lambda: _hand_to_correlation(event.pk), robust=True)
    return event, created


def _hand_to_correlation(change_id: int) -> None:
    # By name: changes may not import incidents. Broker down: logged (robust on_commit), the
    # event is already stored, and the periodic sweep correlates it later.
    current_app.signature("incidents.correlate_change", args=(change_id,)).delay()


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


def send_test_change(*, pipeline: DeploymentPipeline, by: AbstractBaseUser) -> ChangeEvent:
    """Record a harmless test change through the pipeline, as its producer would, and log it.

    For the Settings page's "Send test event": proves the pipeline records and shows changes.
    """
    received_at = timezone.now()
    change = CanonicalChange(
        component="whatchanged-test",
        environment="test",
        kind=ChangeEvent.Kind.OTHER,
        summary=f"Test event sent from Settings by {by.get_username()}",
        triggered_by=by.get_username(),
        event_type="test",
    )
    event, _ = record_change(pipeline=pipeline, change=change, received_at=received_at)
    record_delivery(
        integration=pipeline,
        received_at=received_at,
        event_type="test",
        status_code=202,
        outcome=Delivery.Outcome.ACCEPTED,
        reason="test event sent from Settings",
        body=b"",
        object_id=event.pk,
    )
    return event
