"""Which changes most plausibly caused an incident (DESIGN.md, "Correlation rules").

1. Window: changes whose span [started_at, finished_at or now] meets
   [incident start - window, incident start + skew]. A rollout still running at the start is
   the closest timing there is; otherwise distance is measured from the change's start.
2. Team scoping (ilert's rule): the incident's teams are its alert source's team and the owner
   teams of its components. If any of them owns a deployment pipeline, only changes from those
   teams' pipelines (and manual changes on components they own) are candidates; otherwise
   every change in the window is.
3. Component matching (Alert24's rule), after alias resolution, ranks above everything else;
   a change of a component one of the incident's components depends on (PagerDuty's related
   services, followed up to three hops: one above two above three) ranks next and is a
   candidate whatever team owns it.
4. Within a class: the incident's environment first, then the closest before the start.
Scores and reasons are stored; correlating again updates them (idempotent).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from changes import grouping
from changes.models import ChangeEvent
from common.metrics import observe_correlation_lag
from incidents.models import Incident, SuspectChange
from pipelines.models import DeploymentPipeline
from teams.models import Component

DEFAULT_WINDOW_MINUTES = 60
DEFAULT_SKEW_MINUTES = 2
DEFAULT_ENVIRONMENT = "production"
# Alert sources' windows and skews are at most a day (pipelines.config_as_code validates it).
LONGEST_WINDOW = timedelta(hours=24)
# The most suspects kept per incident: nobody reads the 201st, and it bounds the work.
MAX_SUSPECTS = 200
# Changes ranked for one incident: a window crowded past it keeps the latest.
CANDIDATE_LIMIT = MAX_SUSPECTS * 5
# The most new changes correlated together (correlate_pending_changes).
PENDING_BATCH = 500
# A change still marked running counts as running for at most this long: a rollout whose end
# was never reported must not haunt every later incident.
ROLLOUT_LIMIT = timedelta(hours=6)
ROLLING_OUT = re.compile(r"^rolling out at the start \(started (\d+) minutes? before\)$")
# Score bands: a class outranks any environment, an environment outranks any timing.
# Dependencies are followed this many hops: a change one hop away outranks two, two outrank three.
MAX_HOPS = 3
CLASS_WEIGHT = {"component": 5000.0, 1: 4000.0, 2: 3000.0, 3: 2000.0, "other": 1000.0}
ENVIRONMENT_WEIGHT = 500.0


@dataclass(frozen=True)
class Context:
    """What correlating one incident needs to know, read once."""

    start: datetime
    window_start: datetime
    window_end: datetime
    window_minutes: int
    environment: str
    component_ids: frozenset[int]
    component_names: dict[str, str]  # a change's component name -> the incident's name for it
    # dependency id -> the path to it: (incident component, ..., dependency), 1 to 3 hops
    dependency_of: dict[int, tuple[str, ...]]
    teams: frozenset[int]
    scoped_teams: frozenset[int]


@transaction.atomic
def correlate_incident(*, incident_id: int) -> list[SuspectChange]:
    """Rank the incident's suspect changes and store them. Idempotent; a constant number of
    queries whatever the number of changes. Locks the incident: two workers may be handed it."""
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("alert_source")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:  # deleted meanwhile (retention): nothing to do
        return []
    context = _context(incident)
    ranked = sorted(
        ((_score(change, context), change) for change in _candidates(context)),
        key=lambda scored: _rank_key(scored[0][0], scored[1]),
    )[:MAX_SUSPECTS]
    suspects = _store(incident, ranked)
    first_time = incident.correlated_at is None
    incident.correlated_at = timezone.now()
    incident.save(update_fields=("correlated_at",))
    if first_time:
        transaction.on_commit(
            partial(
                observe_correlation_lag, "incident", incident.created_at, incident.correlated_at
            )
        )
    return suspects


def _rank_key(score: float, change: ChangeEvent) -> tuple[float, float, int]:
    """Suspects' order: the highest score, then the latest start, then the latest recorded."""
    return (-score, -change.started_at.timestamp(), -change.pk)


def span_end(change: ChangeEvent, now: datetime) -> datetime:
    """When the change stopped changing things: its finish, else now (within ROLLOUT_LIMIT)."""
    if change.finished_at is not None:
        return change.finished_at
    return min(now, change.started_at + ROLLOUT_LIMIT)


def meets_window(change: ChangeEvent, start: datetime, end: datetime, now: datetime) -> bool:
    """Whether the change's span meets [start, end]."""
    return change.started_at <= end and span_end(change, now) >= start


def _context(incident: Incident) -> Context:
    source = incident.alert_source
    window = source.window_minutes if source else DEFAULT_WINDOW_MINUTES
    skew = source.skew_minutes if source else DEFAULT_SKEW_MINUTES
    rows = list(incident.components.select_related("component").all())
    components = [row.component for row in rows if row.component is not None]
    component_names = {row.name: row.name for row in rows}
    component_names.update({component.name: component.name for component in components})
    dependency_of = dependency_paths(components)
    teams = {component.owner_team_id for component in components if component.owner_team_id}
    if source is not None and source.team_id:
        teams.add(source.team_id)
    if incident.team_id:
        teams.add(incident.team_id)
    scoped = set(
        DeploymentPipeline.objects.filter(team__in=teams).values_list("team_id", flat=True)
    )
    return Context(
        start=incident.started_at,
        window_start=incident.started_at - timedelta(minutes=window),
        window_end=incident.started_at + timedelta(minutes=skew),
        window_minutes=window,
        environment=(incident.environment or DEFAULT_ENVIRONMENT).lower(),
        component_ids=frozenset(component.pk for component in components),
        component_names=component_names,
        dependency_of=dependency_of,
        teams=frozenset(teams),
        scoped_teams=frozenset(scoped),
    )


def _candidates(context: Context) -> list[ChangeEvent]:
    """The changes whose span meets the window, the latest first, at most CANDIDATE_LIMIT.

    The changes that ended (occurred_at) after the window opened, and the few still running
    that started at most ROLLOUT_LIMIT before it: each read as ids in the time index's order,
    which stops at the limit, then the rows of those ids. As one query with an OR across the
    pipeline's and the component's joins, PostgreSQL gathered and sorted the whole window
    (200,000 changes after a big import, before autovacuum had analysed them: 415 ms).
    """
    start, end = context.window_start, context.window_end
    ended = Q(occurred_at__gte=start, occurred_at__lte=end + ROLLOUT_LIMIT)
    running = Q(
        outcome=ChangeEvent.Outcome.STARTED,
        occurred_at__gte=start - ROLLOUT_LIMIT,
        occurred_at__lt=start,
    )
    latest = sorted(
        (
            found
            for span in (ended, running)
            for found in _scoped(span, context)
            .order_by("-occurred_at", "-id")
            .values_list("occurred_at", "id")[:CANDIDATE_LIMIT]
        ),
        reverse=True,
    )[:CANDIDATE_LIMIT]
    changes = ChangeEvent.objects.filter(pk__in=[pk for _, pk in latest]).select_related(
        "pipeline", "resolved_component"
    )
    now = timezone.now()
    return sorted(
        (change for change in changes if meets_window(change, start, end, now)),
        key=lambda change: (change.occurred_at, change.pk),
        reverse=True,
    )


def _scoped(span: Q, context: Context) -> QuerySet[ChangeEvent]:
    """The logical changes in `span` that started by the window's end, of the incident's
    teams (the team stored on each change) or of the components its components depend on."""
    changes = ChangeEvent.objects.logical().filter(span, started_at__lte=context.window_end)
    if context.scoped_teams:
        changes = changes.filter(
            Q(team__in=context.scoped_teams)
            | Q(resolved_component__in=context.dependency_of.keys())
        )
    return changes


def dependency_paths(components: list[Component]) -> dict[int, tuple[str, ...]]:
    """What the components depend on, up to MAX_HOPS away, each by its shortest path of names
    from one of them. One query (the dependency graph is the catalog's, small); cycles end
    where a component was reached already."""
    edges: dict[int, list[tuple[int, str]]] = {}
    for source, target, name in Component.depends_on.through.objects.values_list(
        "from_component_id", "to_component_id", "to_component__name"
    ):
        edges.setdefault(source, []).append((target, name))
    seen = {component.pk for component in components}
    frontier = {component.pk: (component.name,) for component in components}
    paths: dict[int, tuple[str, ...]] = {}
    for _ in range(MAX_HOPS):
        reached: dict[int, tuple[str, ...]] = {}
        for source, path in sorted(frontier.items(), key=lambda item: item[1]):
            for target, name in edges.get(source, ()):
                if target not in seen and target not in reached:
                    reached[target] = (*path, name)
        seen.update(reached)
        paths.update(reached)
        frontier = reached
    return paths


def _score(change: ChangeEvent, context: Context) -> tuple[float, list[str], str]:
    """A score whose bands follow the rules' order, the reasons in words, and the confidence
    (SuspectChange.Confidence) they add up to."""
    reasons = []
    hops = 0
    if change.resolved_component_id in context.component_ids or (
        change.component in context.component_names
    ):
        match: str | int = "component"
        reasons.append("component match")
    elif change.resolved_component_id in context.dependency_of:
        path = context.dependency_of[change.resolved_component_id]
        match = hops = len(path) - 1
        reasons.append(f"{path[0]} depends on {path[1]}" if hops == 1 else " → ".join(path))
    else:
        match = "other"
    minutes = (context.start - change.started_at).total_seconds() / 60
    rolling_out = minutes > 0 and change.rolling_out_at(context.start)
    if rolling_out:
        minutes = 0.0  # under way at the alarm: the closest timing there is
        reasons.append(f"rolling out at the start (started {_minutes(context.start, change)})")
    else:
        reasons.append(_timing(minutes))
    score = CLASS_WEIGHT[match]
    environment = (change.environment or "").lower()
    other_environment = bool(environment) and environment != context.environment
    if environment == context.environment:
        score += ENVIRONMENT_WEIGHT
        reasons.append(f"same environment ({environment})")
    elif environment:
        reasons.append(f"{environment}, not {context.environment}")
    # Closer to the start is likelier; changes just after it (clock skew) rank as "at the start".
    score += max(0.0, context.window_minutes - max(minutes, 0.0)) / context.window_minutes * 100
    change_team = change.pipeline.team_id if change.pipeline else None
    if change_team is None and change.resolved_component is not None:
        change_team = change.resolved_component.owner_team_id
    same_team = change_team in context.teams
    if same_team:
        reasons.append("same team")
    if change.outcome == ChangeEvent.Outcome.FAILED:
        reasons.append("failed deployment")
        score += 0.5
    if rolling_out:
        score += 0.25  # above a change that finished at the same instant
    if change.kind == ChangeEvent.Kind.ROLLBACK:
        reasons.append("rollback")
    close = match == "component" or hops == 1
    if close and not other_environment and (minutes >= 0 or rolling_out):
        confidence = SuspectChange.Confidence.HIGH
    elif match != "other" or same_team:
        confidence = SuspectChange.Confidence.MEDIUM
    else:
        confidence = SuspectChange.Confidence.LOW
    return round(score, 3), reasons, confidence


def _minutes(start: datetime, change: ChangeEvent) -> str:
    rounded = max(round((start - change.started_at).total_seconds() / 60), 0)
    return f"{rounded} minute{'s' if rounded != 1 else ''} before"


def _timing(minutes: float) -> str:
    rounded = round(minutes)
    if rounded == 0:
        return "at the start"
    if rounded > 0:
        return f"{rounded} minute{'s' if rounded != 1 else ''} before"
    return f"{-rounded} minute{'s' if rounded != -1 else ''} after the start"


def _store(
    incident: Incident, ranked: list[tuple[tuple[float, list[str], str], ChangeEvent]]
) -> list[SuspectChange]:
    """Upsert the ranked suspects; keep engineers' verdicts on changes that stay suspects."""
    existing = {suspect.change_id: suspect for suspect in incident.suspects.all()}
    keep, create = [], []
    for rank, ((score, reasons, confidence), change) in enumerate(ranked, start=1):
        suspect = existing.pop(change.pk, None)
        if suspect is None:
            create.append(
                SuspectChange(
                    incident=incident,
                    change=change,
                    score=score,
                    rank=rank,
                    reasons=reasons,
                    confidence=confidence,
                )
            )
            continue
        suspect.score, suspect.rank, suspect.reasons = score, rank, reasons
        suspect.confidence = confidence
        keep.append(suspect)
    if existing:
        SuspectChange.objects.filter(pk__in=[s.pk for s in existing.values()]).delete()
    SuspectChange.objects.bulk_update(keep, ("score", "rank", "reasons", "confidence"))
    SuspectChange.objects.bulk_create(create)
    return sorted([*keep, *create], key=lambda suspect: suspect.rank)


def incidents_for_changes(changes: list[ChangeEvent]) -> list[int]:
    """Incidents whose window meets any of the changes' spans: open ones and ones resolved in
    the last day. One query for the whole batch.

    A late arrival (recorded after the incident started, timestamped inside its window) must
    still become a suspect.
    """
    if not changes:
        return []
    now = timezone.now()
    first = min(change.started_at for change in changes)
    last = max(span_end(change, now) for change in changes)
    recent = now - timedelta(hours=24)
    candidates = (
        Incident.objects.filter(Q(status__in=Incident.OPEN_STATUSES) | Q(resolved_at__gte=recent))
        .filter(started_at__gte=first - LONGEST_WINDOW, started_at__lte=last + LONGEST_WINDOW)
        .select_related("alert_source")
        .only("id", "started_at", "alert_source__window_minutes", "alert_source__skew_minutes")
    )
    matching = []
    for incident in candidates:
        source = incident.alert_source
        window = timedelta(minutes=source.window_minutes if source else DEFAULT_WINDOW_MINUTES)
        skew = timedelta(minutes=source.skew_minutes if source else DEFAULT_SKEW_MINUTES)
        start, end = incident.started_at - window, incident.started_at + skew
        if any(meets_window(change, start, end, now) for change in changes):
            matching.append(incident.pk)
    return matching


def correlate_changes(*, change_ids: list[int]) -> list[int]:
    """Rank new and updated changes into the suspects of the incidents they may explain, and
    mark the changes as seen. Idempotent. Returns the incidents' ids.

    First the changes are grouped with other pipelines' reports of the same rollout and
    rollbacks mark what they undid (changes.grouping). A new change is added to the ranking of
    each incident it may explain; a change whose span or group changed (a later report, a
    report joining it) has those incidents, and the ones it was a suspect of, ranked afresh.
    """
    changes = _load(change_ids)
    joined = grouping.group_reports(changes)
    grouping.mark_rolled_back(changes)
    if joined:  # the groups' first reports took new spans: read them (and all) again
        changes = _load({*change_ids, *(c.same_as_id for c in changes if c.same_as_id)})
    logical = [change for change in changes if change.same_as_id is None]
    groups = {change.same_as_id for change in changes if change.same_as_id}
    changed = [
        change
        for change in changes
        if change.same_as_id or change.pk in groups or len(change.transitions) > 1
    ]
    suspected: set[int] = set()
    if changed:
        suspects = SuspectChange.objects.filter(change__in=changed)
        suspected = set(suspects.values_list("incident_id", flat=True))
        # A report that joined a group is no suspect of its own: its group is.
        suspects.filter(change__same_as__isnull=False).delete()
    incident_ids = incidents_for_changes(logical)
    changed_spans = incidents_for_changes([c for c in changed if c.same_as_id is None])
    for incident_id in sorted({*suspected, *changed_spans}):
        correlate_incident(incident_id=incident_id)
    new = [change for change in logical if change not in changed]
    for incident_id in incident_ids:  # the incidents open around these moments
        if incident_id not in suspected and incident_id not in changed_spans:
            add_suspects(incident_id=incident_id, changes=new)
    now = timezone.now()
    ChangeEvent.objects.filter(pk__in=[change.pk for change in changes]).update(correlated_at=now)
    for change in changes:
        if change.correlated_at is None:
            observe_correlation_lag("change", change.received_at, now)
    return sorted({*incident_ids, *suspected})


def _load(change_ids: Iterable[int]) -> list[ChangeEvent]:
    return list(
        ChangeEvent.objects.filter(pk__in=list(change_ids)).select_related(
            "pipeline", "resolved_component"
        )
    )


@transaction.atomic
def add_suspects(*, incident_id: int, changes: list[ChangeEvent]) -> int:
    """Add new changes to an incident's ranked suspects, without re-reading its whole window:
    in an incident storm, every burst of deployments touches every open incident.

    The same ranking as correlate_incident (tests compare the two). Returns how many changes
    became suspects.
    """
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("alert_source")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None or incident.correlated_at is None:
        # Gone, or its first correlation is still to come: it reads every change in the window.
        # (Checked under the lock: one in progress has committed by now.)
        return 0
    context = _context(incident)
    scored = sorted(
        ((change, _score(change, context)) for change in changes if _in_scope(change, context)),
        key=lambda item: _rank_key(item[1][0], item[0]),
    )[:MAX_SUSPECTS]  # the rest could not make the list even without the suspects it has
    last = (
        incident.suspects.filter(rank=MAX_SUSPECTS)
        .values_list("score", "change__started_at", "change_id")
        .first()
    )
    if last is not None:  # the list is full: only changes ranking above its last can enter
        score, started_at, change_id = last
        bar = (-score, -started_at.timestamp(), -change_id)
        scored = [item for item in scored if _rank_key(item[1][0], item[0]) < bar]
    SuspectChange.objects.bulk_create(
        [
            SuspectChange(
                incident=incident,
                change=change,
                score=score,
                reasons=reasons,
                confidence=confidence,
                rank=0,
            )
            for change, (score, reasons, confidence) in scored
        ],
        ignore_conflicts=True,  # suspects already: a redelivered task
    )
    if scored:
        _rerank(incident.pk)
    return len(scored)


def _in_scope(change: ChangeEvent, context: Context) -> bool:
    """What _candidates asks the database, for changes already in hand."""
    if change.same_as_id is not None:
        return False
    if not meets_window(change, context.window_start, context.window_end, timezone.now()):
        return False
    if not context.scoped_teams:
        return True
    if change.pipeline_id is not None:
        same_team = change.pipeline.team_id in context.scoped_teams
    else:
        owner = change.resolved_component
        same_team = owner is not None and owner.owner_team_id in context.scoped_teams
    return same_team or change.resolved_component_id in context.dependency_of


def _rerank(incident_id: int) -> None:
    """Number the incident's suspects in ranking order and drop those past MAX_SUSPECTS: two
    statements, whatever the number of suspects."""
    suspects, changes = SuspectChange._meta.db_table, ChangeEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH ranked AS (
                SELECT s.id, ROW_NUMBER() OVER (
                    ORDER BY s.score DESC, c.started_at DESC, c.id DESC
                ) AS position
                FROM {suspects} s JOIN {changes} c ON c.id = s.change_id
                WHERE s.incident_id = %s
            )
            UPDATE {suspects} SET rank = ranked.position FROM ranked
            WHERE {suspects}.id = ranked.id AND {suspects}.rank <> ranked.position
            """,  # noqa: S608 - table names from our models; values are parameters
            [incident_id],
        )
    SuspectChange.objects.filter(incident_id=incident_id, rank__gt=MAX_SUSPECTS).delete()


def correlate_pending_changes(*, batch: int = PENDING_BATCH) -> int:
    """Correlate the oldest changes not correlated yet, up to `batch`; returns how many.

    Ingest does not send a message per change: under a burst, a burst of incidents would be
    re-correlated once per change. It asks for this instead (changes.services), and every
    change waiting by then is handled together.
    """
    change_ids = list(
        ChangeEvent.objects.filter(correlated_at=None)
        .order_by("received_at")
        .values_list("id", flat=True)[:batch]
    )
    correlate_changes(change_ids=change_ids)
    return len(change_ids)


def sweep(*, batch: int = 200) -> tuple[int, int]:
    """Correlate whatever the on-commit hand-off missed (the broker was down, a worker died).

    Returns (incidents, changes) handled; a backlog larger than `batch` takes several runs.
    """
    incident_ids = list(
        Incident.objects.filter(correlated_at=None)
        .order_by("started_at")
        .values_list("id", flat=True)[:batch]
    )
    for incident_id in incident_ids:
        correlate_incident(incident_id=incident_id)
    return len(incident_ids), correlate_pending_changes(batch=batch)
