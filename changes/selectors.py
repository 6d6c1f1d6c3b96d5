"""Reads of change events."""

from django.db.models import QuerySet

from changes.models import ChangeEvent


def change_feed() -> QuerySet[ChangeEvent]:
    """All changes with what the feed shows beside them, in one query."""
    return ChangeEvent.objects.select_related(
        "pipeline__team", "resolved_component__owner_team", "author"
    )
