"""A change's state in words: "rolling out · 4 min", "succeeded · 6 min", "rolled back"."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html

from changes.models import ChangeEvent
from common.times import duration_words

register = template.Library()

STATUS_WORDS = {
    ChangeEvent.Outcome.STARTED: "rolling out",
    ChangeEvent.Outcome.SUCCEEDED: "succeeded",
    ChangeEvent.Outcome.FAILED: "failed",
    ChangeEvent.Outcome.CANCELLED: "cancelled",
    ChangeEvent.ROLLED_BACK: "rolled back",
}


@register.filter(name="duration_words")
def duration_words_filter(span: timedelta | None) -> str:
    """'under a minute', '6 min', '2 h 5 min', '3 days'; "" for no span."""
    return "" if span is None else duration_words(span)


@register.filter
def running_for(started_at: datetime | None) -> str:
    """How long a change started at `started_at` has been rolling out, in words."""
    return duration_words(timezone.now() - started_at) if started_at else ""


@register.filter
def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


@register.simple_tag
def status_badge(change: ChangeEvent) -> str:
    """The state of a change as a badge: how long it has been rolling out, its outcome with
    how long it took, or that it was rolled back. Built in Python: it is on every row."""
    status = change.status
    if status == ChangeEvent.Outcome.STARTED:
        words = f"{STATUS_WORDS[status]} · {running_for(change.started_at)}"
    elif status == ChangeEvent.ROLLED_BACK:
        words = STATUS_WORDS[status]
    elif change.duration:
        words = f"{status_words(status)} · {duration_words(change.duration)}"
    else:  # reported once, at its end: an instant
        words = status_words(status)
    return format_html('<span class="badge outcome-{}">{}</span>', status, words)
