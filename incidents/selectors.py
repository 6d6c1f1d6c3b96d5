"""Reads of incidents: the API's querysets and what the incident pages show."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import JSONObject

from changes.models import ChangeEvent
from common.pagination import KeysetPage, keyset_page
from incidents.correlation import DEFAULT_SKEW_MINUTES, DEFAULT_WINDOW_MINUTES
from incidents.models import Incident, IncidentComponent, SuspectChange, TimelineEntry
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, Team

# The list shows this many open incidents at most; filters narrow a storm down.
OPEN_LIST_LIMIT = 100
# A pipeline with no event for this long may be disconnected: its silence proves nothing.
SILENT_AFTER = timedelta(days=3)
# A change that reached us later than this after it happened is flagged on the incident page.
LATE_AFTER = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def incident_list() -> QuerySet[Incident]:
    """Incidents, open ones first, with what the list shows beside them."""
    return (
        Incident.objects.select_related("alert_source", "team")
        .prefetch_related("components")
        .annotate(
            is_closed=Case(
                When(status=Incident.Status.RESOLVED, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    )


def incident_detail() -> QuerySet[Incident]:
    return Incident.objects.select_related(
        "alert_source", "team", "acknowledged_by", "resolved_by"
    ).prefetch_related(
        "components",
        "timeline__user",
        Prefetch(
            "suspects",
            queryset=SuspectChange.objects.select_related(
                "change__pipeline__team", "change__resolved_component", "change__author"
            ),
        ),
    )


# --- The incidents list -------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterOptions:
    """(value, label) choices of the list's team, source and component filters."""

    teams: list[tuple[str, str]]
    sources: list[tuple[str, str]]
    components: list[tuple[str, str]]


def filter_options() -> FilterOptions:
    """What the list's filters offer: teams, alert sources and catalog components, one query."""
    rows = (
        Team.objects.order_by()
        .annotate(kind=Value("team"))
        .values_list("slug", "name", "kind")
        .union(
            AlertSource.objects.order_by()
            .annotate(kind=Value("source"))
            .values_list("name", "name", "kind"),
            Component.objects.order_by()
            .annotate(kind=Value("component"))
            .values_list("name", "name", "kind"),
            all=True,
        )
    )
    options: dict[str, list[tuple[str, str]]] = {"team": [], "source": [], "component": []}
    for value, label, kind in rows:
        options[kind].append((value, label))
    return FilterOptions(
        **{
            f"{kind}s": sorted(choices, key=lambda c: c[1].lower())
            for kind, choices in options.items()
        }
    )


@dataclass(frozen=True)
class IncidentListing:
    open_incidents: list[Incident] | None  # None when the status filter leaves them out
    more_open: bool  # more than OPEN_LIST_LIMIT matched
    resolved: KeysetPage[Incident] | None
    cursor: str  # what the live poll compares against (see list_cursor)


def _live_cursor_expressions() -> dict[str, Subquery]:
    """What the open incidents' rows depend on: a new incident, any timeline entry (alerts,
    repeats and every status change write one), and correlation of an open incident."""
    return {
        "cursor_incident": Subquery(Incident.objects.order_by("-id").values("id")[:1]),
        "cursor_entry": Subquery(TimelineEntry.objects.order_by("-id").values("id")[:1]),
        "cursor_correlated": Subquery(
            Incident.objects.filter(status__in=Incident.OPEN_STATUSES, correlated_at__isnull=False)
            .order_by("-correlated_at")
            .values("correlated_at")[:1]
        ),
    }


def _cursor(*parts: int | datetime | None) -> str:
    def encode(part: int | datetime | None) -> str:
        if isinstance(part, datetime):
            return str((part - _EPOCH) // timedelta(microseconds=1))
        return str(part or 0)

    return "-".join(encode(part) for part in parts)


def _row_cursor(row: Incident) -> str:
    return _cursor(row.cursor_incident, row.cursor_entry, row.cursor_correlated)


def list_cursor() -> str:
    """The list's live cursor, in one query: it changes when anything the open rows show does."""
    row = Incident.objects.annotate(**_live_cursor_expressions()).order_by().first()
    return _row_cursor(row) if row is not None else _cursor()


def last_incident_id(cursor: str) -> int:
    """The newest incident a cursor had seen, so rows after it can be marked new."""
    head = cursor.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def list_rows() -> QuerySet[Incident]:
    """Incidents as the list shows them: with their top suspect and the live cursor alongside."""
    top_suspect = (
        SuspectChange.objects.filter(incident=OuterRef("pk"))
        .order_by("rank")
        .values(
            summary=JSONObject(
                component="change__component", version="change__version", kind="change__kind"
            )
        )[:1]
    )
    return (
        Incident.objects.select_related("alert_source", "team")
        .annotate(top_suspect=Subquery(top_suspect), **_live_cursor_expressions())
        .order_by("-started_at", "-id")
    )


def incident_listing(
    rows: QuerySet[Incident], *, status: str = "", before: str = "", open_only: bool = False
) -> IncidentListing:
    """Open incidents (newest first) and a keyset page of resolved ones, from `list_rows()`
    as filtered.

    A constant number of queries: open rows, resolved rows, and the components of both at once.
    The live cursor rides along on the rows; only a list with no rows at all asks for it.
    """
    open_incidents = resolved = None
    more_open = False
    if status in ("", *Incident.OPEN_STATUSES) and not before:
        open_incidents = list(rows.filter(status__in=Incident.OPEN_STATUSES)[: OPEN_LIST_LIMIT + 1])
        more_open = len(open_incidents) > OPEN_LIST_LIMIT
        open_incidents = open_incidents[:OPEN_LIST_LIMIT]
    if status in ("", Incident.Status.RESOLVED) and not open_only:
        resolved = keyset_page(
            rows.filter(status=Incident.Status.RESOLVED), time_field="started_at", before=before
        )
    shown = [*(open_incidents or []), *(resolved.items if resolved else [])]
    prefetch_related_objects(shown, "components")
    return IncidentListing(
        open_incidents=open_incidents,
        more_open=more_open,
        resolved=resolved,
        cursor=_row_cursor(shown[0]) if shown else list_cursor(),
    )


# --- One incident ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuspectView:
    suspect: SuspectChange
    sentence: str
    late_by: timedelta | None  # received_at - occurred_at, when over LATE_AFTER


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    kind: str  # a TimelineEntry.Kind value, or "change"
    entry: TimelineEntry | None = None
    suspect: SuspectView | None = None


@dataclass(frozen=True)
class PipelineView:
    pipeline: DeploymentPipeline
    sent_in_window: bool
    is_silent: bool  # no event for SILENT_AFTER, or never


@dataclass(frozen=True)
class BlindSpots:
    """What correlation could not see, so that "no recent changes" can be trusted or not."""

    window_start: datetime
    window_end: datetime
    window_minutes: int
    skew_minutes: int
    teams: list[Team]
    teams_without_pipelines: list[Team]
    pipelines: list[PipelineView]
    quiet: list[PipelineView]  # sent nothing in the window
    silent: list[PipelineView]  # silent for days
    uncatalogued: list[str]  # component names not in the catalog
    is_account_wide: bool  # no scoped team has a pipeline: every change was considered
    is_correlated: bool


@dataclass(frozen=True)
class IncidentPage:
    incident: Incident
    components: list[IncidentComponent]
    suspects: list[SuspectView]
    timeline: list[TimelineRow]
    blind_spots: BlindSpots
    duration: timedelta
    cursor: str
    markdown: str


def incident_page(*, pk: int, now: datetime, url: str = "") -> IncidentPage | None:
    """Everything the incident page shows, in five queries whatever the incident's size."""
    incident = (
        Incident.objects.select_related(
            "alert_source__team", "team", "acknowledged_by", "resolved_by"
        )
        .prefetch_related(
            Prefetch(
                "components",
                queryset=IncidentComponent.objects.select_related("component__owner_team"),
            ),
            Prefetch("timeline", queryset=TimelineEntry.objects.order_by("at", "id")),
            Prefetch(
                "suspects",
                queryset=SuspectChange.objects.select_related(
                    "change__pipeline__team",
                    "change__resolved_component",
                    "change__author",
                    "verdict_by",
                ).order_by("rank", "id"),
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        return None
    components = list(incident.components.all())
    entries = list(incident.timeline.all())
    suspects = [
        SuspectView(suspect=suspect, sentence=describe_suspect(suspect), late_by=lateness(suspect))
        for suspect in incident.suspects.all()
    ]
    timeline = sorted(
        [
            *(
                TimelineRow(at=s.suspect.change.occurred_at, kind="change", suspect=s)
                for s in suspects
            ),
            *(TimelineRow(at=entry.at, kind=entry.kind, entry=entry) for entry in entries),
        ],
        key=lambda row: (row.at, row.kind != "change"),
    )
    verdicts = [s.suspect.verdict_at for s in suspects if s.suspect.verdict_at is not None]
    page = IncidentPage(
        incident=incident,
        components=components,
        suspects=suspects,
        timeline=timeline,
        blind_spots=_blind_spots(incident, components, now),
        duration=(incident.resolved_at or now) - incident.started_at,
        cursor=_cursor(
            max((entry.pk for entry in entries), default=0),
            incident.correlated_at,
            max(verdicts, default=None),
        ),
        markdown="",
    )
    return replace(page, markdown=postmortem_markdown(page, url=url))


def incident_cursor(*, pk: int) -> str | None:
    """The incident page's live cursor, in one query; None when the incident is gone."""
    row = (
        Incident.objects.filter(pk=pk)
        .annotate(
            last_entry=Subquery(
                TimelineEntry.objects.filter(incident=OuterRef("pk"))
                .order_by("-id")
                .values("id")[:1]
            ),
            last_verdict=Subquery(
                SuspectChange.objects.filter(incident=OuterRef("pk"), verdict_at__isnull=False)
                .order_by("-verdict_at")
                .values("verdict_at")[:1]
            ),
        )
        .values_list("last_entry", "correlated_at", "last_verdict")
        .first()
    )
    return _cursor(*row) if row is not None else None


def _blind_spots(
    incident: Incident, components: list[IncidentComponent], now: datetime
) -> BlindSpots:
    """The incident's teams as correlation scopes them: its alert source's team, its own team
    and its components' owner teams (incidents.correlation._context)."""
    source = incident.alert_source
    window = source.window_minutes if source else DEFAULT_WINDOW_MINUTES
    skew = source.skew_minutes if source else DEFAULT_SKEW_MINUTES
    start = incident.started_at - timedelta(minutes=window)
    end = incident.started_at + timedelta(minutes=skew)
    teams = {
        team.pk: team
        for team in (
            source.team if source else None,
            incident.team,
            *(row.component.owner_team for row in components if row.component),
        )
        if team is not None
    }
    in_window = ChangeEvent.objects.filter(
        pipeline=OuterRef("pk"), occurred_at__gte=start, occurred_at__lte=end
    )
    pipelines = [
        PipelineView(
            pipeline=pipeline,
            sent_in_window=pipeline.sent_in_window,
            is_silent=pipeline.last_event_at is None or pipeline.last_event_at < now - SILENT_AFTER,
        )
        for pipeline in DeploymentPipeline.objects.filter(team__in=teams.keys())
        .select_related("team")
        .annotate(sent_in_window=Exists(in_window))
        .order_by("team__name", "name")
    ] if teams else []  # fmt: skip
    with_pipelines = {view.pipeline.team_id for view in pipelines}
    ordered_teams = sorted(teams.values(), key=lambda team: team.name.lower())
    return BlindSpots(
        window_start=start,
        window_end=end,
        window_minutes=window,
        skew_minutes=skew,
        teams=ordered_teams,
        teams_without_pipelines=[team for team in ordered_teams if team.pk not in with_pipelines],
        pipelines=pipelines,
        quiet=[view for view in pipelines if not view.sent_in_window],
        silent=[view for view in pipelines if view.is_silent],
        uncatalogued=[row.name for row in components if row.component_id is None],
        is_account_wide=not pipelines,
        is_correlated=incident.correlated_at is not None,
    )


# --- Words ------------------------------------------------------------------------------------

_VERBS = {
    # kind: (succeeded, failed, started)
    ChangeEvent.Kind.DEPLOYMENT: ("deployed", "failed to deploy", "started deploying"),
    ChangeEvent.Kind.ROLLBACK: ("rolled back", "failed to roll back", "started rolling back"),
    ChangeEvent.Kind.CONFIG: ("config changed", "config change failed", "config change started"),
    ChangeEvent.Kind.FEATURE_FLAG: ("feature flag changed", "flag change failed", "flag changing"),
    ChangeEvent.Kind.INFRASTRUCTURE: (
        "infrastructure changed", "infrastructure change failed", "infrastructure changing",
    ),
    ChangeEvent.Kind.MANUAL: ("changed by hand", "manual change failed", "manual change started"),
}  # fmt: skip
_OUTCOME_INDEX = {ChangeEvent.Outcome.FAILED: 1, ChangeEvent.Outcome.STARTED: 2}
_BEFORE = re.compile(r"^(\d+) minutes? before$")
_AFTER = re.compile(r"^(\d+) minutes? after the start$")
# Said by the verb already, or what every suspect has in common.
_UNSAID = re.compile(r"^(failed deployment|rollback|same environment \(.*\))$")
_REASON_WORDS = {"component match": "same component"}


def change_verb(change: ChangeEvent) -> str:
    verbs = _VERBS.get(change.kind, ("changed", "change failed", "change started"))
    return verbs[_OUTCOME_INDEX.get(change.outcome, 0)]


def change_name(change: ChangeEvent) -> str:
    """'payments-service v4.7.0': what changed, as an engineer would name it."""
    name = change.component or change.summary[:80] or "A change"
    version = change.version or change.commit[:7]
    return f"{name} {version}" if version else name


def minutes_words(minutes: int) -> str:
    """'8 min', '2 h 5 min', '3 days'."""
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"


def duration_words(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return "under a minute" if seconds >= 0 else "0 min"
    return minutes_words(seconds // 60)


def _timing_words(reason: str) -> str | None:
    if reason == "at the start":
        return "as the alarm started"
    before = _BEFORE.match(reason)
    if before:
        return f"{minutes_words(int(before.group(1)))} before the alarm"
    after = _AFTER.match(reason)
    if after:
        return f"{minutes_words(int(after.group(1)))} after the alarm started"
    return None


def describe_suspect(suspect: SuspectChange) -> str:
    """The suspect in one plain sentence, from its stored reasons:
    'payments-service v4.7.0 deployed 8 min before the alarm · same component · same team'."""
    change = suspect.change
    head = f"{change_name(change)} {change_verb(change)}"
    rest = []
    for reason in suspect.reasons:
        timing = _timing_words(reason)
        if timing is not None:
            head = f"{head} {timing}"
        elif not _UNSAID.match(reason):
            rest.append(_REASON_WORDS.get(reason, reason))
    return " · ".join([head, *rest])


def lateness(suspect: SuspectChange) -> timedelta | None:
    """How long after it happened the change reached us, when that is over a minute."""
    late = suspect.change.received_at - suspect.change.occurred_at
    return late if late > LATE_AFTER else None


def timeline_text(row: TimelineRow, incident: Incident) -> str:
    """One timeline row in words (the Markdown summary's Event column)."""
    if row.suspect is not None:
        change = row.suspect.suspect.change
        by = change.triggered_by or (change.author.get_username() if change.author else "")
        text = f"{change_name(change)} {change_verb(change)}" + (f" by {by}" if by else "")
        return f"{text} (suspect #{row.suspect.suspect.rank}): {change.summary}".rstrip(": ")
    entry = row.entry
    if entry is None:  # a row is a change or an entry
        return ""
    actor = entry.actor or "someone"
    if entry.kind == TimelineEntry.Kind.ALERT:
        return f"Alert from {actor}: {entry.data.get('title') or incident.title}"
    if entry.kind == TimelineEntry.Kind.REPEAT:
        return f"Alert repeated ({actor})"
    if entry.kind == TimelineEntry.Kind.NOTE:
        return f"{actor}: {entry.data.get('text', '')}"
    if entry.kind == TimelineEntry.Kind.RESOLVED and entry.data.get("reason"):
        return f"Resolved: {entry.data['reason']} ({actor})"
    return f"{entry.get_kind_display()} by {actor}"


def _md(text: object) -> str:
    """Payload text made safe for one Markdown table cell or list item."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _utc(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def _names(items: Iterable[str]) -> str:
    return ", ".join(_md(item) for item in items) or "none"


def postmortem_markdown(page: IncidentPage, *, url: str = "") -> str:
    """The incident as Markdown for a postmortem document. Plain text: the template escapes it."""
    incident, spots = page.incident, page.blind_spots
    lines = [
        f"# {_md(incident.title)}",
        "",
        f"- **Status:** {incident.get_status_display()} · **Severity:** "
        f"{incident.get_severity_display()}",
        f"- **Source:** {_md(incident.alert_source.name if incident.alert_source else '—')}"
        f" · **Team:** {_md(incident.team.name if incident.team else '—')}",
        f"- **Components:** {_names(row.name for row in page.components)}",
        f"- **Started:** {_utc(incident.started_at)}",
    ]
    if incident.acknowledged_at:
        lines.append(f"- **Acknowledged:** {_utc(incident.acknowledged_at)}")
    if incident.resolved_at:
        lines.append(f"- **Resolved:** {_utc(incident.resolved_at)}")
    lines.append(f"- **Duration:** {duration_words(page.duration)}")
    if url:
        lines.append(f"- **Link:** {url}")
    confirmed = [s for s in page.suspects if s.suspect.verdict == SuspectChange.Verdict.CONFIRMED]
    lines += ["", "## Cause", ""]
    lines += [f"- Confirmed: {_md(s.sentence)}" for s in confirmed] or ["- Not confirmed yet."]
    lines += ["", "## Suspect changes", ""]
    for view in page.suspects[:10]:
        verdict = (
            f" — **{view.suspect.get_verdict_display().lower()}**" if view.suspect.verdict else ""
        )
        lines.append(f"{view.suspect.rank}. {_md(view.sentence)}{verdict}")
    if not page.suspects:
        lines.append("No changes in the correlation window.")
    lines += ["", "## Timeline", "", "| Time | Event | Type |", "|---|---|---|"]
    lines += [
        f"| {_utc(row.at)} | {_md(timeline_text(row, incident))} | {row.kind} |"
        for row in page.timeline
    ]
    lines += ["", "## What Whatchanged could not see", ""]
    lines.append(
        f"- Changes considered: {_utc(spots.window_start)} to {_utc(spots.window_end)}"
        + (" (all teams)" if spots.is_account_wide else "")
    )
    lines += [
        f"- No deployment pipeline: team {_md(team.name)}" for team in spots.teams_without_pipelines
    ]
    lines += [f"- Sent nothing in the window: {_md(v.pipeline.name)}" for v in spots.quiet]
    lines += [f"- Silent for days: {_md(v.pipeline.name)}" for v in spots.silent]
    lines += [f"- Not in the catalog: {_md(name)}" for name in spots.uncatalogued]
    lines += [
        f"- Arrived late: {_md(change_name(view.suspect.change))}, {duration_words(view.late_by)} "
        "after it happened"
        for view in page.suspects
        if view.late_by
    ]
    return "\n".join(lines) + "\n"
