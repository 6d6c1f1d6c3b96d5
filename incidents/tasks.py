"""Celery wrappers around incident services: ids in, one idempotent service call each."""

from celery import shared_task
from django.db import OperationalError
from structlog import get_logger

from changes.services import take_correlation_request
from common.cache import claim, release
from incidents import correlation, services

logger = get_logger(__name__)

CHANGES_RUNNING = "correlation:changes-running"
LOCK_SECONDS = 300  # a crashed run's lock expires after this

# Only a database restart is worth retrying; anything else is a bug to see in the logs.
RETRYING = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name="incidents.correlate_incident", **RETRYING)
def correlate_incident(incident_id: int) -> int:
    suspects = len(correlation.correlate_incident(incident_id=incident_id))
    logger.info("incident correlated", incident_id=incident_id, suspects=suspects)
    return suspects


@shared_task(name="incidents.correlate_pending_changes", **RETRYING)
def correlate_pending_changes() -> int:
    """New changes into suspects, one run at a time: in an incident storm a run takes a while,
    and the worker's other processes must stay free for new incidents. A run that finds
    another under way comes back a second later (it still holds the request: see
    changes.services.request_correlation)."""
    if not claim(CHANGES_RUNNING, LOCK_SECONDS):  # no cache: runs may overlap, which is safe
        correlate_pending_changes.apply_async(countdown=1)
        return 0
    try:
        take_correlation_request()
        handled = correlation.correlate_pending_changes()
    finally:
        release(CHANGES_RUNNING)
    if handled == correlation.PENDING_BATCH:  # more are waiting: a message of their own
        correlate_pending_changes.delay()
    return handled


@shared_task(name="incidents.sweep", **RETRYING)
def sweep() -> tuple[int, int]:
    return correlation.sweep()


@shared_task(name="incidents.auto_resolve", **RETRYING)
def auto_resolve() -> int:
    return services.auto_resolve_quiet_incidents()


@shared_task(name="incidents.apply_retention", **RETRYING)
def apply_retention() -> dict[str, int]:
    return services.apply_retention()
