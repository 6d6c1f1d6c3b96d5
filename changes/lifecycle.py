"""A change's lifecycle: how one more report of the same change updates it.

Producers report a rollout when it starts and when it ends, and promise no order. The rules
(README, "One change, several events"):
- the start is the earliest start any report gives, and never moves later;
- the latest final report (succeeded, failed, cancelled) decides the outcome and the finish; a
  start arriving after the finish only fills the start, never turns the change back to started;
- `occurred_at` is the time of the latest state: the finish once finished;
- the report that is the latest state fills the change's texts; an older one only fills blanks.
Pure: no database. services.record_change locks the row, calls `apply_report`, saves.
"""

from datetime import UTC, datetime
from typing import Any

from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent

# What a later report may overwrite (when it is the latest state) or fill (when blank).
TEXT_FIELDS = ("summary", "description", "triggered_by", "version", "commit", "environment")


def report_entry(change: CanonicalChange, *, at: datetime, received_at: datetime) -> dict[str, Any]:
    """One report as `ChangeEvent.events` keeps it."""
    entry = {
        "outcome": change.outcome,
        "at": at.astimezone(UTC).isoformat(),  # UTC, so that the texts sort in time order
        "received_at": received_at.astimezone(UTC).isoformat(),
    }
    for name in ("idempotency_key", "event_id", "event_type"):
        value = getattr(change, name)
        if value:
            entry["key" if name == "idempotency_key" else name] = value
    return entry


def is_repeat(event: ChangeEvent, change: CanonicalChange) -> bool:
    """Whether this report was recorded already: the same delivery id, or the same id in the
    producer's body (a replay under a new delivery id)."""
    key, event_id = change.idempotency_key, change.event_id
    if key and key == event.idempotency_key:
        return True
    return any(
        (key and entry.get("key") == key) or (event_id and entry.get("event_id") == event_id)
        for entry in event.events
    )


def apply_report(
    event: ChangeEvent, change: CanonicalChange, *, at: datetime, received_at: datetime
) -> None:
    """Update `event` with one more report of it, `at` the report's time."""
    started = change.started_at or (at if change.outcome == ChangeEvent.Outcome.STARTED else None)
    if started is not None and started < event.started_at:
        event.started_at = started
    final = change.outcome in ChangeEvent.FINAL_OUTCOMES
    finished = event.outcome in ChangeEvent.FINAL_OUTCOMES
    if final and (not finished or at >= event.finished_at):
        latest = True
        event.outcome = change.outcome
        event.finished_at = event.occurred_at = at
    elif not final and not finished and at >= event.occurred_at:
        latest = True
        event.occurred_at = at
    else:
        latest = False
    if final and event.started_at > at:
        event.started_at = at
    for name in TEXT_FIELDS:
        value = getattr(change, name)
        if value and (latest or not getattr(event, name)):
            setattr(event, name, value)
    if latest:
        event.kind = change.kind
    known = {link.get("href") for link in event.links}
    event.links = [
        *event.links,
        *(dict(link) for link in change.links if link["href"] not in known),
    ]
    event.metadata = (
        {**event.metadata, **change.metadata} if latest else {**change.metadata, **event.metadata}
    )
    entry = report_entry(change, at=at, received_at=received_at)
    event.events = sorted([*event.transitions, entry], key=lambda report: report["at"])
