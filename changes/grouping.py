"""One rollout, several reporters; and rollbacks that undo an earlier change.

Teams often have two tools report the same rollout (the GitHub deployment webhook and a curl
step in the pipeline; CodePipeline and a Terraform local-exec). Reports of one rollout from
different pipelines are one logical change when they name the same component (after alias
resolution) and environment, the same commit (or, when neither names one, the same version),
and start within GROUP_WINDOW of each other. The first one recorded stays the logical change;
later ones point at it with `same_as`, and it takes the earliest start and, while it runs, a
finish one of them reported. Only logical changes are shown, counted and correlated.

A rollback of a component and environment marks what it undid as rolled back: the latest
change of them when it names that change's version (or no version at all), else every change
after the latest one with the version it goes back to.

Both run in the worker before correlation (incidents.correlation), so that ingest stays one
statement; grouping is stored, never recomputed for a page.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from changes.models import ChangeEvent

GROUP_WINDOW = timedelta(minutes=30)
# How far back a rollback looks for the change it undoes.
ROLLBACK_LOOKBACK = timedelta(days=7)
# Git tools shorten a commit to at least this many characters (GitLab's short_sha: 8).
SHORT_COMMIT = 7


@transaction.atomic
def group_reports(changes: Iterable[ChangeEvent]) -> set[int]:
    """Group each change with another pipeline's report of the same rollout; returns the ids
    of the changes that joined a group (their own suspicions now belong to the group's)."""
    joined: set[int] = set()
    for change in changes:
        if change.pipeline_id is None or change.same_as_id is not None:
            continue
        if not (change.commit or change.version):
            continue
        twin = _first_twin(change)
        if twin is None:
            continue
        first, later = (twin, change) if twin.pk < change.pk else (change, twin)
        _join(first, later)
        joined.add(later.pk)
    return joined


def _same_component(change: ChangeEvent) -> Q:
    if change.resolved_component_id:
        return Q(resolved_component_id=change.resolved_component_id)
    return Q(component=change.component, resolved_component=None)


def _first_twin(change: ChangeEvent) -> ChangeEvent | None:
    candidates = (
        ChangeEvent.objects.logical()
        .filter(
            _same_component(change),
            environment__iexact=change.environment,
            # A twin starts within the window; it cannot have ended before the window either.
            occurred_at__gte=change.started_at - GROUP_WINDOW,
            started_at__lte=change.started_at + GROUP_WINDOW,
            started_at__gte=change.started_at - GROUP_WINDOW,
        )
        .exclude(pipeline=None)
        .exclude(pipeline=change.pipeline_id)
        .exclude(pk=change.pk)
    )
    if change.commit:
        candidates = candidates.filter(commit__istartswith=change.commit[:SHORT_COMMIT])
    else:
        candidates = candidates.filter(commit="", version=change.version)
    for twin in candidates.order_by("pk")[:20]:
        if _same_commit(twin.commit, change.commit):
            return twin
    return None


def _same_commit(one: str, other: str) -> bool:
    """Equal, or one the abbreviation of the other (GitLab reports short SHAs)."""
    one, other = one.lower(), other.lower()
    shorter, longer = sorted((one, other), key=len)
    return longer.startswith(shorter) and (len(shorter) >= SHORT_COMMIT or shorter == longer)


def _join(first: ChangeEvent, later: ChangeEvent) -> None:
    """`later` and whatever was grouped under it become reports of `first`."""
    members = ChangeEvent.objects.filter(Q(pk=later.pk) | Q(same_as=later.pk))
    members.update(same_as=first.pk)
    later.same_as_id = first.pk
    span = ChangeEvent.objects.filter(pk__in=[first.pk, later.pk]).select_for_update()
    first, later = sorted(span, key=lambda change: change.pk)
    fields = ["started_at"]
    first.started_at = min(first.started_at, later.started_at)
    if first.is_running and not later.is_running:
        first.outcome, first.finished_at = later.outcome, later.finished_at
        first.occurred_at = max(first.occurred_at, later.occurred_at)
        fields += ["outcome", "finished_at", "occurred_at"]
    first.correlated_at = None  # its span may have grown: correlated again
    first.save(update_fields=[*fields, "correlated_at"])


@transaction.atomic
def mark_rolled_back(changes: Iterable[ChangeEvent]) -> list[int]:
    """Mark what each rollback among `changes` undid; returns the ids marked."""
    marked: list[int] = []
    for rollback in changes:
        if rollback.kind != ChangeEvent.Kind.ROLLBACK or rollback.same_as_id is not None:
            continue
        if rollback.outcome not in (ChangeEvent.Outcome.STARTED, ChangeEvent.Outcome.SUCCEEDED):
            continue
        undone = _undone_by(rollback)
        if undone:
            ChangeEvent.objects.filter(pk__in=undone).update(rolled_back_by=rollback.pk)
            marked += undone
    return marked


def _undone_by(rollback: ChangeEvent) -> list[int]:
    earlier: QuerySet[ChangeEvent] = (
        ChangeEvent.objects.logical()
        .filter(
            _same_component(rollback),
            environment__iexact=rollback.environment,
            started_at__lt=rollback.started_at,
            started_at__gte=rollback.started_at - ROLLBACK_LOOKBACK,
        )
        .exclude(kind=ChangeEvent.Kind.ROLLBACK)
        .exclude(pk=rollback.pk)
        .order_by("-started_at", "-pk")
    )
    recent = list(earlier.values_list("pk", "version")[:50])
    if not recent:
        return []
    # A rollback that names no version (CodePipeline's rollback of a stage) undoes the latest.
    if (
        not rollback.version or recent[0][1] == rollback.version
    ):  # "roll back v4.7.0": the latest change, by name
        return [recent[0][0]]
    for position, (_, version) in enumerate(recent):  # "roll back to v4.6.0"
        if version == rollback.version:
            return [pk for pk, _ in recent[:position]]
    return []
