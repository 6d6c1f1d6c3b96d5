"""Reads of change events."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Prefetch, Q, QuerySet, prefetch_related_objects

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.models import Delivery
from teams.permissions import can_see_deliveries, deliveries_hidden
from teams.selectors import team_ids_of

# The most running rows of one page whose state a live poll looks up.
POLL_RUNNING_LIMIT = 200


def other_reports() -> QuerySet[ChangeEvent]:
    """Other pipelines' reports of a change, as lists of "also reported by" show them: who
    reported it and what they said, not their texts or payload fields."""
    return (
        ChangeEvent.objects.select_related("pipeline")
        .only("same_as", "received_at", "outcome", "pipeline__name")
        .order_by("pk")
    )


def change_rows() -> QuerySet[ChangeEvent]:
    """Every stored change, grouped reports included, with the names a row shows beside it."""
    return ChangeEvent.objects.select_related(
        "pipeline__team", "resolved_component__owner_team", "author"
    )


def change_feed() -> QuerySet[ChangeEvent]:
    """Logical changes (reports grouped under another change left out), with what the feed
    shows beside them: the rows in one query, the other pipelines that reported them in one
    more (none when there are no rows)."""
    return (
        change_rows()
        .logical()
        .prefetch_related(Prefetch("also_reported", queryset=other_reports()))
    )


def change_detail() -> QuerySet[ChangeEvent]:
    """Any change by id, a grouped report too, with every report of its logical change and
    its pipeline's team."""
    return (
        change_rows()
        .select_related("same_as__pipeline__team")
        .prefetch_related(
            Prefetch("also_reported", queryset=_reports_with_teams()),
            Prefetch("same_as__also_reported", queryset=_reports_with_teams()),
        )
    )


def logical_reports(change: ChangeEvent) -> list[ChangeEvent]:
    """Every report of `change`'s logical change: the logical change first, then the other
    pipelines' reports grouped under it (prefetched by change_feed and change_detail)."""
    logical = change.same_as if change.same_as_id else change
    return [logical, *logical.also_reported.all()]


def latest_change_id() -> int:
    """The live poll's cursor: ids only grow, so "newer than this id" is what arrived since."""
    return ChangeEvent.objects.aggregate(latest=Max("id"))["latest"] or 0


def has_changes_after(change_id: int) -> bool:
    """Whether anything arrived after the poll's cursor: one probe of the primary key."""
    return ChangeEvent.objects.filter(id__gt=change_id).exists()


def no_longer_running(ids: Iterable[int]) -> list[ChangeEvent]:
    """Of the changes a page shows as rolling out, those that are not any more (finished, or
    rolled back), for the live poll to redraw. Unfiltered: a row on the page shows its
    current state even when it no longer matches the page's filters."""
    ids = list(ids)[:POLL_RUNNING_LIMIT]
    if not ids:
        return []
    return list(
        change_feed()
        .filter(pk__in=ids)
        .filter(~Q(outcome=ChangeEvent.Outcome.STARTED) | Q(rolled_back_by__isnull=False))
    )


@dataclass(frozen=True)
class Transition:
    """One report of a change's lifecycle, as the change page lists it."""

    outcome: str
    at: datetime | None
    received_at: datetime | None
    event_type: str


@dataclass(frozen=True)
class Report:
    """One pipeline's report of a logical change, with the deliveries that brought it, or
    (`deliveries_hidden`) why the reader may not see them."""

    change: ChangeEvent
    deliveries: list[Delivery]
    deliveries_hidden: str = ""


@dataclass(frozen=True)
class ChangePage:
    change: ChangeEvent
    logical: ChangeEvent  # the change itself, or the one it is grouped under
    transitions: list[Transition]
    reports: list[Report]
    rolled_back: list[ChangeEvent]  # what this change, a rollback, undid


def change_page(pk: int, *, user: AbstractBaseUser) -> ChangePage:
    """A change with its lifecycle, every report of its logical change and the deliveries
    that brought them (those of pipelines whose deliveries `user` may see:
    teams.permissions.can_see_deliveries), what rolled it back or it rolled back, and the
    incidents in which it is a suspect. Raises ChangeEvent.DoesNotExist. A constant number of
    queries."""
    # suspected_in by name: changes may not import incidents, which owns the suspicions.
    change = (
        change_detail()
        .select_related("rolled_back_by", "same_as__rolled_back_by")
        .prefetch_related("suspected_in__incident__alert_source")
        .get(pk=pk)
    )
    logical = change.same_as if change.same_as_id else change
    prefetch_related_objects([logical], "rolled_back_changes")
    reports = logical_reports(change)
    pipelines = [report.pipeline for report in reports if report.pipeline_id]
    # The user's teams only when a team's deliveries are in question: one query at most.
    needs_teams = not user.is_staff and any(pipeline.team_id for pipeline in pipelines)
    member_of = team_ids_of(user) if needs_teams else frozenset()
    visible = {
        pipeline.pk
        for pipeline in pipelines
        if can_see_deliveries(user, pipeline.team, member_of=member_of)
    }
    deliveries = _deliveries_of(reports, visible)
    return ChangePage(
        change=change,
        logical=logical,
        transitions=[_transition(entry) for entry in change.transitions],
        reports=[
            Report(
                change=report,
                deliveries=deliveries.get(report.pk, []),
                deliveries_hidden=(
                    deliveries_hidden(report.pipeline.team)
                    if report.pipeline_id and report.pipeline_id not in visible
                    else ""
                ),
            )
            for report in reports
        ],
        rolled_back=sorted(logical.rolled_back_changes.all(), key=lambda undone: undone.pk),
    )


def _reports_with_teams() -> QuerySet[ChangeEvent]:
    """other_reports, with each pipeline's team: the change page says whose deliveries they
    are ("visible to <team>'s members")."""
    return (
        other_reports()
        .select_related("pipeline__team")
        .only("same_as", "received_at", "outcome", "pipeline__name", "pipeline__team__name")
    )


def _deliveries_of(reports: list[ChangeEvent], pipelines: set[int]) -> dict[int, list[Delivery]]:
    """The logged requests from `pipelines` that stored or updated each report, oldest first
    (the log keeps the last hundred per pipeline: older ones are gone)."""
    if not pipelines:
        return {}
    found: dict[int, list[Delivery]] = {}
    rows = (
        Delivery.objects.filter(pipeline__in=pipelines, object_id__in=[r.pk for r in reports])
        .defer("payload")
        .order_by("received_at", "pk")
    )
    for delivery in rows:
        found.setdefault(delivery.object_id, []).append(delivery)
    return found


def _transition(entry: dict[str, Any]) -> Transition:
    return Transition(
        outcome=str(entry.get("outcome", "")),
        at=parse_timestamp(entry.get("at")),
        received_at=parse_timestamp(entry.get("received_at")),
        event_type=str(entry.get("event_type", "")),
    )
