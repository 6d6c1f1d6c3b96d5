"""Producers' many ways of writing a time, read into aware UTC datetimes."""

import re
from datetime import UTC, datetime, timedelta

# Ruby's Time#to_s (GitLab): "2026-11-20 15:04:12 +0100" or "2026-11-20 14:04:12 UTC".
_RUBY = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ?(UTC|Z|[+-]\d{2}:?\d{2})$")
_COLONLESS_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_FRACTION = re.compile(r"\.(\d+)")
# Epoch values above this are milliseconds (year 2286 in seconds).
_MILLISECONDS_FROM = 10_000_000_000


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601, Ruby's to_s, or epoch seconds or milliseconds.

    Returns None for anything else, so the caller can name the field in its error.
    A time without an offset is taken as UTC, as the producers that send one mean it.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    if text.isdigit():
        return parse_timestamp(int(text))
    ruby = _RUBY.match(text)
    if ruby:
        date, clock, zone = ruby.groups()
        text = f"{date}T{clock}{'+00:00' if zone in ('UTC', 'Z') else zone}"
    text = _COLONLESS_OFFSET.sub(r"\1:\2", text) if "T" in text or " " in text else text
    # Python reads at most microseconds; Go and Prometheus send nanoseconds.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def minutes_words(minutes: int) -> str:
    """'8 min', '2 h 5 min', '3 days'."""
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"


def duration_words(duration: timedelta) -> str:
    """A duration as people say it: 'under a minute', '6 min', '2 h 5 min', '3 days'."""
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return "under a minute" if seconds >= 0 else "0 min"
    return minutes_words(seconds // 60)
