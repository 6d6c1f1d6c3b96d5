"""Reads of incidents: the API's querysets and what the incident pages show."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import Cast

from changes import selectors as change_selectors
from changes.models import ChangeEvent
from common.pagination import KeysetPage, keyset_page
from common.times import duration_words
from incidents.correlation import (
    DEFAULT_SKEW_MINUTES,
    DEFAULT_WINDOW_MINUTES,
    MAX_HOPS,
    dependency_paths,
)
from incidents.models import Alert, Incident, IncidentComponent, SuspectChange, TimelineEntry
from incidents.presenters import (
    BlindSpots,
    IncidentPage,
    PipelineView,
    SuspectView,
    TimelineRow,
    change_event_text,
    conclusion,
    describe_suspect,
    entry_text,
    evidence,
    lateness,
    postmortem_markdown,
)
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, Team

# The list shows this many open incidents at most; filters narrow a storm down.
OPEN_LIST_LIMIT = 50  # an incident storm past this is narrowed down with the filters
# A pipeline with no event for this long may be disconnected: its silence proves nothing.
SILENT_AFTER = timedelta(days=3)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def incident_list() -> QuerySet[Incident]:
    """Incidents with what the API lists beside them."""
    return Incident.objects.select_related("alert_source", "team").prefetch_related(
        "components", Prefetch("alerts", queryset=Alert.objects.select_related("alert_source"))
    )


def incident_detail() -> QuerySet[Incident]:
    return Incident.objects.select_related(
        "alert_source", "team", "acknowledged_by", "resolved_by"
    ).prefetch_related(
        "components",
        Prefetch("alerts", queryset=Alert.objects.select_related("alert_source")),
        "timeline__user",
        Prefetch(
            "suspects",
            queryset=SuspectChange.objects.select_related(
                "change__pipeline__team", "change__resolved_component", "change__author"
            ),
        ),
        # The API names every report of each suspect (ChangeEventSerializer.reports).
        Prefetch("suspects__change__also_reported", queryset=change_selectors.other_reports()),
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
        .annotate(option=Value("team"))
        .values_list("slug", "name", "option")
        .union(
            AlertSource.objects.order_by()
            .annotate(option=Value("source"))
            .values_list("name", "name", "option"),
            Component.objects.order_by()
            .annotate(option=Value("component"))
            .values_list("name", "name", "option"),
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
    cursor: str  # what the open section's live poll compares against (see list_cursor)


def _live_cursor_expressions() -> dict[str, Subquery]:
    """What the open incidents' rows depend on: a new incident, any timeline entry (alerts,
    repeats and every status change write one), correlation of an open incident, and any new
    suspect (a change arriving late can become an incident's top suspect without a fresh
    correlation; the newest id of all, not of open incidents: one index probe either way)."""
    return {
        "cursor_incident": Subquery(Incident.objects.order_by("-id").values("id")[:1]),
        "cursor_entry": Subquery(TimelineEntry.objects.order_by("-id").values("id")[:1]),
        "cursor_suspect": Subquery(SuspectChange.objects.order_by("-id").values("id")[:1]),
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
    return _cursor(row.cursor_incident, row.cursor_entry, row.cursor_correlated, row.cursor_suspect)


def list_cursor() -> str:
    """The list's live cursor, in one query: it changes when anything the open rows show does."""
    row = (
        Incident.objects.annotate(**_live_cursor_expressions())
        .values_list("cursor_incident", "cursor_entry", "cursor_correlated", "cursor_suspect")
        .first()
    )
    return _cursor(*row) if row is not None else _cursor()


def last_incident_id(cursor: str) -> int:
    """The newest incident a cursor had seen, so rows after it can be marked new."""
    head = cursor.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


# What a row of the list shows: the row reads these and nothing else, so the rest (the
# description, tags, links, who acknowledged) stays in the database.
_ROW_FIELDS = ("title", "severity", "status", "started_at", "resolved_at", "repeat_count")


def list_rows() -> QuerySet[Incident]:
    """Incidents as the list shows them: the row's own fields, the names of its alert source
    and team (plain columns: a whole AlertSource and Team per row cost more to build than the
    rest of the row), and its top suspect."""
    top_suspect = SuspectChange.objects.filter(incident=OuterRef("pk")).order_by("rank")
    return (
        Incident.objects.only(*_ROW_FIELDS)
        .annotate(
            alert_source_name=F("alert_source__name"),
            team_name=F("team__name"),
            top_suspect_component=Subquery(top_suspect.values("change__component")[:1]),
            top_suspect_version=Subquery(top_suspect.values("change__version")[:1]),
        )
        .order_by("-started_at", "-id")
    )


def with_component_names(incidents: list[Incident]) -> None:
    """Set `component_names` on each incident (the names its alerts gave), in one query for
    all of them: two columns rather than a model per component."""
    names: dict[int, list[str]] = {incident.pk: [] for incident in incidents}
    if names:
        rows = IncidentComponent.objects.filter(incident__in=names).order_by("id")
        for incident_id, name in rows.values_list("incident_id", "name"):
            names[incident_id].append(name)
    for incident in incidents:
        incident.component_names = names[incident.pk]


def incident_listing(
    rows: QuerySet[Incident], *, status: str = "", before: str = "", open_only: bool = False
) -> IncidentListing:
    """Open incidents (newest first) and a keyset page of resolved ones, from `list_rows()`
    as filtered.

    A constant number of queries: open rows, resolved rows, and the components of both at once.
    The live cursor is for the open section only: it rides along on the open rows (read once
    per query, not per row), or on the resolved ones when no incident is open; only a list
    with no rows at all asks for it on its own.
    """
    open_incidents = resolved = None
    more_open = False
    shows_open = status in ("", *Incident.OPEN_STATUSES) and not before
    if shows_open:
        open_rows = rows.filter(status__in=Incident.OPEN_STATUSES)
        open_incidents = list(
            open_rows.annotate(**_live_cursor_expressions())[: OPEN_LIST_LIMIT + 1]
        )
        more_open = len(open_incidents) > OPEN_LIST_LIMIT
        open_incidents = open_incidents[:OPEN_LIST_LIMIT]
    if status in ("", Incident.Status.RESOLVED) and not open_only:
        resolved_rows = rows.filter(status=Incident.Status.RESOLVED)
        if shows_open and not open_incidents:
            resolved_rows = resolved_rows.annotate(**_live_cursor_expressions())
        resolved = keyset_page(resolved_rows, time_field="started_at", before=before)
    shown = [*(open_incidents or []), *(resolved.items if resolved else [])]
    with_component_names(shown)
    cursor = ""
    if shows_open:
        cursor = _row_cursor(shown[0]) if shown else list_cursor()
    return IncidentListing(
        open_incidents=open_incidents, more_open=more_open, resolved=resolved, cursor=cursor
    )


# --- One incident ---------------------------------------------------------------------------------


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
        # The live cursor rides along, read before the rows it stands for: a write landing in
        # between makes it older than the page, so the next poll answers once more, never less.
        .annotate(**_incident_cursor_expressions())
        .first()
    )
    if incident is None:
        return None
    if incident.alert_count > 1:  # a storm lists its alerts: one query, however many
        prefetch_related_objects(
            [incident], Prefetch("alerts", queryset=Alert.objects.select_related("alert_source"))
        )
    components = list(incident.components.all())
    entries = list(incident.timeline.all())
    suspects = [_suspect_view(suspect) for suspect in incident.suspects.all()]
    timeline = sorted(
        [
            *(
                TimelineRow(
                    at=view.suspect.change.occurred_at,
                    kind="change",
                    text=change_event_text(view.suspect),
                    suspect=view,
                )
                for view in suspects
            ),
            *(
                TimelineRow(
                    at=entry.at, kind=entry.kind, text=entry_text(entry, incident), entry=entry
                )
                for entry in entries
            ),
        ],
        key=lambda row: (row.at, row.kind != "change"),
    )
    duration = (incident.resolved_at or now) - incident.started_at
    page = IncidentPage(
        incident=incident,
        components=components,
        conclusion=conclusion(
            incident,
            [view.suspect for view in suspects],
            [component.name for component in components],
        ),
        suspects=suspects,
        timeline=timeline,
        blind_spots=_blind_spots(incident, components, now),
        duration=duration,
        duration_text=duration_words(duration),
        cursor=_incident_row_cursor(incident),
        markdown="",
    )
    return replace(page, markdown=postmortem_markdown(page, url=url))


def _suspect_view(suspect: SuspectChange) -> SuspectView:
    late_by = lateness(suspect)
    return SuspectView(
        suspect=suspect,
        sentence=describe_suspect(suspect),
        late_by=late_by,
        late_text=duration_words(late_by) if late_by else "",
        evidence=evidence(suspect.change),
    )


# 2**31 - 1, a prime: the fingerprint's terms stay below it, so their cube fits in 64 bits.
_FINGERPRINT_MODULUS = 2_147_483_647


def _suspects_fingerprint() -> Subquery:
    """A number that moves whenever the incident's ranked suspects do: one added or removed,
    or any suspect's rank or confidence changed (so the conclusion's too).

    The sum of a hash of (change, rank, confidence) over the suspects, in SQL: a cube modulo a
    prime, so that a reordering, unlike with a plain sum, moves it too. Each term is at least
    1, so a removal always counts. Scores and reasons change only when the incident is
    correlated afresh, which moves `correlated_at`, also in the cursor.
    """
    modulus = _FINGERPRINT_MODULUS
    confidence = Case(
        When(confidence=SuspectChange.Confidence.HIGH, then=Value(1)),
        When(confidence=SuspectChange.Confidence.MEDIUM, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    # Ranks stay under 256 (correlation.MAX_SUSPECTS), confidences under 4: no overlap.
    base = (Cast("change_id", BigIntegerField()) * 1024 + F("rank") * 4 + confidence) % modulus
    term = (base * base % modulus) * base % modulus + 1
    return Subquery(
        SuspectChange.objects.filter(incident=OuterRef("pk"))
        .order_by()
        .values("incident")
        .annotate(fingerprint=Sum(term))
        .values("fingerprint")
    )


def _incident_cursor_expressions() -> dict[str, Subquery]:
    """What the incident page shows beside the incident row itself (which `correlated_at`
    stands for): its last timeline entry (alerts, status changes, notes, verdicts each write
    one), its last verdict, and its suspects as ranked."""
    return {
        "cursor_entry": Subquery(
            TimelineEntry.objects.filter(incident=OuterRef("pk")).order_by("-id").values("id")[:1]
        ),
        "cursor_verdict": Subquery(
            SuspectChange.objects.filter(incident=OuterRef("pk"), verdict_at__isnull=False)
            .order_by("-verdict_at")
            .values("verdict_at")[:1]
        ),
        "cursor_suspects": _suspects_fingerprint(),
    }


def _incident_row_cursor(incident: Incident) -> str:
    return _cursor(
        incident.cursor_entry,
        incident.correlated_at,
        incident.cursor_verdict,
        incident.cursor_suspects,
    )


def incident_cursor(*, pk: int) -> str | None:
    """The incident page's live cursor, in one query; None when the incident is gone."""
    incident = (
        Incident.objects.filter(pk=pk)
        .annotate(**_incident_cursor_expressions())
        .only("correlated_at")
        .first()
    )
    return _incident_row_cursor(incident) if incident is not None else None


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
    newest = ChangeEvent.objects.filter(pipeline=OuterRef("pk")).order_by("-occurred_at")
    rows = (
        DeploymentPipeline.objects.filter(team__in=teams.keys())
        .select_related("team")
        .annotate(
            sent_in_window=Exists(in_window),
            newest_change_at=Subquery(newest.values("received_at")[:1]),
        )
        .order_by("team__name", "name")
        if teams
        else []
    )
    pipelines = []
    for pipeline in rows:
        # Ingest stamps last_event_at; changes stored another way (imports) count too.
        heard = [at for at in (pipeline.last_event_at, pipeline.newest_change_at) if at]
        last_heard_at = max(heard, default=None)
        pipelines.append(
            PipelineView(
                pipeline=pipeline,
                sent_in_window=pipeline.sent_in_window,
                last_heard_at=last_heard_at,
                is_silent=not pipeline.sent_in_window
                and (last_heard_at is None or last_heard_at < now - SILENT_AFTER),
            )
        )
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
        reported=[view for view in pipelines if view.sent_in_window],
        quiet=[view for view in pipelines if not view.sent_in_window and not view.is_silent],
        silent=[view for view in pipelines if view.is_silent],
        uncatalogued=[row.name for row in components if row.component_id is None],
        is_account_wide=not pipelines,
        is_correlated=incident.correlated_at is not None,
    )


RECENT_ON_COMPONENT = 30


@dataclass(frozen=True)
class Dependency:
    """A component reached through the catalog's dependencies, and the path of names to it
    from the page's component (its first or last name is the page's)."""

    name: str
    slug: str
    path: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.path) - 1

    @property
    def path_text(self) -> str:
        return " → ".join(self.path)


@dataclass(frozen=True)
class ComponentPage:
    component: Component
    changes: list[ChangeEvent]
    incidents: list[Incident]
    depends_on: list[Dependency]  # what it needs, up to MAX_HOPS away: nearest first
    depended_on_by: list[Dependency]  # what needs it, up to MAX_HOPS away: nearest first


def dependent_paths(
    components: list[Component], edges: list[tuple[int, int, str]]
) -> dict[int, tuple[str, ...]]:
    """The reverse of incidents.correlation.dependency_paths: what depends on the components,
    up to MAX_HOPS away, each by its shortest path of names ending at one of them
    ("checkout-web → payments-service → postgres-main"). `edges` are (from id, to id, from
    name) rows of the catalog's dependencies; cycles end where a component was reached."""
    needed_by: dict[int, list[tuple[int, str]]] = {}
    for source, target, name in edges:
        needed_by.setdefault(target, []).append((source, name))
    seen = {component.pk for component in components}
    frontier = {component.pk: (component.name,) for component in components}
    paths: dict[int, tuple[str, ...]] = {}
    for _ in range(MAX_HOPS):
        reached: dict[int, tuple[str, ...]] = {}
        for target, path in sorted(frontier.items(), key=lambda item: item[1]):
            for source, name in needed_by.get(target, ()):
                if source not in seen and source not in reached:
                    reached[source] = (name, *path)
        seen.update(reached)
        paths.update(reached)
        frontier = reached
    return paths


def _dependencies(component: Component) -> tuple[list[Dependency], list[Dependency]]:
    """Both directions, transitively, in two queries whatever the catalog's size: the one
    dependency_paths makes, and the catalog's edges with names and slugs for the reverse."""
    edges = list(
        Component.depends_on.through.objects.values_list(
            "from_component_id",
            "to_component_id",
            "from_component__name",
            "from_component__slug",
            "to_component__slug",
        )
    )
    slugs = {source: slug for source, _, _, slug, _ in edges}
    slugs.update({target: slug for _, target, _, _, slug in edges})

    def listed(paths: dict[int, tuple[str, ...]], name_at: int) -> list[Dependency]:
        rows = [
            Dependency(name=path[name_at], slug=slugs.get(pk, ""), path=path)
            for pk, path in paths.items()
        ]
        return sorted(rows, key=lambda row: (row.hops, row.name.lower()))

    named = [(source, target, name) for source, target, name, *_ in edges]
    depends_on = listed(dependency_paths([component]), -1)
    depended_on_by = listed(dependent_paths([component], named), 0)
    return depends_on, depended_on_by


def component_page(*, slug: str) -> ComponentPage | None:
    """A catalog component with its latest changes and incidents (aliases included), and
    what it depends on and what depends on it, both transitively."""
    component = (
        Component.objects.select_related("owner_team")
        .prefetch_related("aliases")
        .filter(slug=slug)
        .first()
    )
    if component is None:
        return None
    changes = list(
        change_selectors.change_feed()
        .filter(resolved_component=component)
        .order_by("-occurred_at", "-id")[:RECENT_ON_COMPONENT]
    )
    incidents = list(list_rows().filter(components__component=component)[:RECENT_ON_COMPONENT])
    with_component_names(incidents)
    depends_on, depended_on_by = _dependencies(component)
    return ComponentPage(
        component=component,
        changes=changes,
        incidents=incidents,
        depends_on=depends_on,
        depended_on_by=depended_on_by,
    )


# --- The deployments view's banner --------------------------------------------------------------


@dataclass(frozen=True)
class OpenIncidents:
    """What the deployments view's banner says: how many incidents are open, and the newest."""

    count: int
    newest: Incident | None

    @property
    def cursor(self) -> str:
        """Moves whenever the banner's words would: one opened or closed, or alerts joining the
        newest (they retitle it)."""
        if self.newest is None:
            return "0"
        return f"{self.count}-{self.newest.pk}-{self.newest.alert_count}"


def open_incidents() -> OpenIncidents:
    """The open incidents' count and the newest of them, in one query (a window count rides
    along with the newest row)."""
    newest = (
        Incident.objects.filter(status__in=Incident.OPEN_STATUSES)
        .annotate(open_count=Window(Count("id")))
        .only("id", "title", "severity", "status", "started_at", "alert_count")
        .order_by("-started_at", "-id")
        .first()
    )
    return OpenIncidents(count=newest.open_count if newest else 0, newest=newest)
