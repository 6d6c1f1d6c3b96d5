"""The delivery log: what each recent request to an integration did."""

import re
from datetime import datetime

from pipelines.models import AlertSource, Delivery, DeploymentPipeline, Integration

KEEP_PER_INTEGRATION = 100
# Producers that put the integration key in the body (PagerDuty, ilert): never logged.
KEY_FIELDS = re.compile(rb'("(?:routing_key|integrationKey)"\s*:\s*")((?:[^"\\]|\\.)*)(")')
# Trimming costs a query, so only every Nth delivery does it; the log may briefly hold N more.
TRIM_EVERY = 20


def record_delivery(
    *,
    integration: Integration,
    received_at: datetime,
    event_type: str,
    status_code: int,
    outcome: str,
    reason: str,
    body: bytes,
    object_id: int | None = None,
) -> Delivery:
    """Store one delivery record, outside the ingest transaction (the event is already safe)."""
    owner = _owner(integration)
    delivery = Delivery.objects.create(
        **owner,
        received_at=received_at,
        event_type=event_type[:100],
        status_code=status_code,
        outcome=outcome,
        reason=reason[:500],
        size=len(body),
        payload=_as_text(body),
        object_id=object_id,
    )
    if delivery.pk % TRIM_EVERY == 0:
        trim_deliveries(integration)
    return delivery


def trim_deliveries(integration: Integration) -> int:
    """Keep the newest KEEP_PER_INTEGRATION records of an integration; returns how many went."""
    owner = _owner(integration)
    newest = Delivery.objects.filter(**owner).order_by("-received_at", "-id")
    cutoff = newest.values_list("received_at", "id")[
        KEEP_PER_INTEGRATION : KEEP_PER_INTEGRATION + 1
    ]
    if not cutoff:
        return 0
    at, pk = cutoff[0]
    older = (
        Delivery.objects.filter(**owner)
        .filter(received_at__lte=at)
        .exclude(received_at=at, id__gt=pk)
    )
    deleted, _ = older.delete()
    return deleted


def _owner(integration: Integration) -> dict[str, Integration]:
    if isinstance(integration, DeploymentPipeline):
        return {"pipeline": integration}
    if isinstance(integration, AlertSource):
        return {"alert_source": integration}
    raise TypeError(f"not an integration: {integration!r}")


def _as_text(body: bytes) -> str:
    """The payload as the log keeps it: cut at the limit, keys in the body blanked out."""
    redacted = KEY_FIELDS.sub(rb"\1[redacted]\3", body[: Delivery.PAYLOAD_LIMIT])
    return redacted.decode("utf-8", "replace").replace("\x00", "")
