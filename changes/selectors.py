"""Reads of change events."""

from django.db.models import Max, QuerySet

from changes.models import ChangeEvent


def change_feed() -> QuerySet[ChangeEvent]:
    """All changes with what the feed shows beside them, in one query."""
    return ChangeEvent.objects.select_related(
        "pipeline__team", "resolved_component__owner_team", "author"
    )


def latest_change_id() -> int:
    """The live poll's cursor: ids only grow, so "newer than this id" is what arrived since."""
    return ChangeEvent.objects.aggregate(latest=Max("id"))["latest"] or 0


def change_with_suspicions(pk: int) -> ChangeEvent:
    """One change, with the incidents in which it is a suspect (and their sources)."""
    # By name: changes may not import incidents, which owns the suspicions.
    return change_feed().prefetch_related("suspected_in__incident__alert_source").get(pk=pk)
