"""Keyset pagination: "older than this row", never OFFSET, so page 400 costs what page 1 does."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions, serializers
from rest_framework.request import Request

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 50
MAX_API_PAGE_SIZE = 200


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
        # The `lte` is implied by the OR, but only it gives the index a range to start from:
        # without it a deep page scans every newer row.
        queryset = queryset.filter(
            Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "id__lt": pk}),
            **{f"{time_field}__lte": at},
        )
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = ""
    if len(rows) > size:
        last = items[-1]
        next_cursor = encode_cursor(getattr(last, time_field), last.pk)
    return KeysetPage(items=items, next_cursor=next_cursor)


def keyset_api_page(
    request: Request,
    queryset: QuerySet[M],
    *,
    time_field: str,
    serializer: type[serializers.Serializer],
) -> dict:
    """An API list page: `results`, and `next` (a URL) / `next_cursor` for older rows.

    `?limit=` sets the page size (1 to MAX_API_PAGE_SIZE), `?cursor=` continues a listing.
    """
    raw_limit = request.query_params.get("limit", "")
    size = DEFAULT_PAGE_SIZE
    if raw_limit:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_API_PAGE_SIZE:
            message = f"Use a whole number from 1 to {MAX_API_PAGE_SIZE}."
            raise exceptions.ValidationError({"limit": [message]})
        size = int(raw_limit)
    page = keyset_page(
        queryset, time_field=time_field, before=request.query_params.get("cursor", ""), size=size
    )
    next_url = None
    if page.next_cursor:
        query = request.query_params.copy()
        query["cursor"] = page.next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return {
        "results": serializer(page.items, many=True).data,
        "next": next_url,
        "next_cursor": page.next_cursor or None,
    }
