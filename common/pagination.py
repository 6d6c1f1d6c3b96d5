"""Keyset pagination: "older than this row", never OFFSET, so page 400 costs what page 1 does."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    items: list[M]
    next_cursor: str  # empty on the last page


def encode_cursor(at: datetime, pk: int) -> str:
    raw = f"{at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (time, id) a cursor points at, or None for a cursor we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            return None
        return parsed, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


def keyset_page(
    queryset: QuerySet[M], *, time_field: str, before: str = "", size: int = DEFAULT_PAGE_SIZE
) -> KeysetPage[M]:
    """The `size` newest rows older than the `before` cursor, ordered by (time_field, id) desc.

    An unreadable cursor gives the first page rather than an error: it came from a URL.
    """
    queryset = queryset.order_by(f"-{time_field}", "-id")
    position = decode_cursor(before) if before else None
    if position is not None:
        at, pk = position
        queryset = queryset.filter(
            Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "id__lt": pk})
        )
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = ""
    if len(rows) > size:
        last = items[-1]
        next_cursor = encode_cursor(getattr(last, time_field), last.pk)
    return KeysetPage(items=items, next_cursor=next_cursor)
