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

from collections import defaultdict
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
    of the changes that joined a group (their own suspicions now belong to the group's).

    One query for the possible twins of the whole batch, matched here: the worker groups every
    burst of changes before correlating it.
    """
    eligible = sorted(
        (
            change
            for change in changes
            if change.pipeline_id
            and change.same_as_id is None
            and (change.commit or change.version)
        ),
        key=lambda change: change.pk,
    )
    if not eligible:
        return set()
    twins: dict[tuple[object, str], list[ChangeEvent]] = defaultdict(list)
    for candidate in _possible_twins(eligible):
        twins[_rollout_key(candidate)].append(candidate)
    joined: set[int] = set()
    for change in eligible:
        if change.pk in joined:
            continue
        twin = next(
            (
                candidate
                for candidate in twins[_rollout_key(change)]
                if candidate.pk != change.pk
                and candidate.pk not in joined
                and candidate.pipeline_id != change.pipeline_id
                and abs(candidate.started_at - change.started_at) <= GROUP_WINDOW
                and _same_revision(candidate, change)
            ),
            None,
        )
        if twin is None:
            continue
        first, later = (twin, change) if twin.pk < change.pk else (change, twin)
        _join(first, later)
        joined.add(later.pk)
    return joined


def _rollout_key(change: ChangeEvent) -> tuple[object, str]:
    """What two reports of one rollout share: the component (as catalogued, else as named)
    and the environment."""
    component = change.resolved_component_id or f"name:{change.component}"
    return component, change.environment.lower()


def _possible_twins(changes: list[ChangeEvent]) -> list[ChangeEvent]:
    """Logical changes of the same components that started around these changes did."""
    starts = [change.started_at for change in changes]
    catalogued = {change.resolved_component_id for change in changes} - {None}
    named = {change.component for change in changes if not change.resolved_component_id}
    return list(
        ChangeEvent.objects.logical()
        .filter(
            Q(resolved_component_id__in=catalogued)
            | Q(resolved_component=None, component__in=named),
            # A twin starts within the window; it cannot have ended before the window either.
            occurred_at__gte=min(starts) - GROUP_WINDOW,
            started_at__gte=min(starts) - GROUP_WINDOW,
            started_at__lte=max(starts) + GROUP_WINDOW,
        )
        .exclude(pipeline=None)
        .exclude(commit="", version="")
        .only(
            "pipeline_id",
            "resolved_component_id",
            "component",
            "environment",
            "commit",
            "version",
            "started_at",
        )
        .order_by("pk")
    )


def _same_component(change: ChangeEvent) -> Q:
    if change.resolved_component_id:
        return Q(resolved_component_id=change.resolved_component_id)
    return Q(component=change.component, resolved_component=None)


def _same_revision(one: ChangeEvent, other: ChangeEvent) -> bool:
    """The same commit, or, when neither names one, the same version."""
    if one.commit or other.commit:
        return bool(one.commit and other.commit) and _same_commit(one.commit, other.commit)
    return one.version == other.version


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
