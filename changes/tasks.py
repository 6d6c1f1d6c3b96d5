"""Celery wrappers around change services: ids and names in, one idempotent service call."""

from celery import shared_task
from django.db import OperationalError

from changes import services


@shared_task(
    name="changes.resolve_change_components",
    acks_late=True,
    autoretry_for=(OperationalError,),  # database restarting; nothing else is transient
    retry_backoff=True,
    max_retries=5,
)
def resolve_change_components(names: list[str]) -> int:
    return services.resolve_change_components(names=names)
