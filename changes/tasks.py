"""Celery wrappers around change services: ids and names in, one idempotent service call."""

from celery import shared_task
from django.db import OperationalError

from changes import ownership, services


@shared_task(
    name="changes.resolve_change_components",
    acks_late=True,
    autoretry_for=(OperationalError,),  # database restarting; nothing else is transient
    retry_backoff=True,
    max_retries=5,
)
def resolve_change_components(names: list[str]) -> int:
    return services.resolve_change_components(names=names)


@shared_task(
    name="changes.rewrite_change_teams",
    acks_late=True,
    autoretry_for=(OperationalError,),  # database restarting; nothing else is transient
    retry_backoff=True,
    max_retries=5,
)
def rewrite_change_teams(pipeline_id: int | None = None, component_id: int | None = None) -> int:
    """After a pipeline changed team (`pipeline_id`), a component changed owner
    (`component_id`) or a pipeline was deleted (neither): its changes count for the team that
    owns them now."""
    return ownership.rewrite_change_teams(pipeline_id=pipeline_id, component_id=component_id)
