"""The Insights page: how well suspects are ranked, judged by engineers' own verdicts, next to
how often teams and components deploy, how often a deployment fails, how long one takes, and
which kinds of change (deployments, flags, infrastructure...) turn out to cause incidents.

Deployments are logical changes (a rollout several pipelines reported counts once) with a final
outcome. Counts are one aggregate query each, whatever the amount of data: what comes back is
one row per team, or per component for the busiest ones. Durations are one query of the
period's timed deployments, whose percentiles are taken here: SQLite, the embedded default, has
no percentile_cont. Charts are plain data for an inline SVG template (incidents.charts).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import floor
from typing import Literal

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from changes.models import ChangeEvent
from common.times import duration_words
from incidents.charts import Chart, accuracy_chart, failure_chart, frequency_chart, percent
from incidents.models import Incident, IncidentComponent, SuspectChange

PERIOD = timedelta(days=90)
# A deployment "fails" when it is rolled back later, or an incident on its component starts
# while it rolls out or within this time after it finished.
FAILURE_WINDOW = timedelta(minutes=60)
# Deployments are counted to these environments ("" = the producer did not say).
PRODUCTION_ENVIRONMENTS = ("production", "prod", "")
BUSIEST_COMPONENTS = 15
NO_TEAM = "No team"
NO_COMPONENT = "(no component)"
NO_DURATION = "—"

Grouping = Literal["team", "component"]
MISSING: dict[Grouping, str] = {"team": NO_TEAM, "component": NO_COMPONENT}


@dataclass(frozen=True)
class TierAccuracy:
    """Of `incidents` with a confirmed cause and at least one suspect of this confidence tier,
    how many had the confirmed cause as that tier's top suspect (its best-ranked one)."""

    confidence: str  # a SuspectChange.Confidence value
    label: str
    incidents: int
    hits: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.incidents if self.incidents else 0.0


@dataclass(frozen=True)
class Accuracy:
    """Of `incidents` with a confirmed cause, how many had it ranked first / in the top three,
    and per confidence tier (high, medium, low), how often that tier's top suspect was it."""

    label: str
    incidents: int
    hit1: int
    hit3: int
    tiers: tuple[TierAccuracy, ...] = ()

    @property
    def hit1_rate(self) -> float:
        return self.hit1 / self.incidents if self.incidents else 0.0

    @property
    def hit3_rate(self) -> float:
        return self.hit3 / self.incidents if self.incidents else 0.0


@dataclass(frozen=True)
class Delivery:
    """Deployments of a team or component, how many failed, and how long the timed ones took
    (None without any deployment reported with a start before its finish)."""

    label: str
    deployments: int
    failures: int
    per_week: float
    duration_p50: timedelta | None = None
    duration_p90: timedelta | None = None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.deployments if self.deployments else 0.0

    @property
    def duration_text(self) -> str:
        if self.duration_p50 is None or self.duration_p90 is None:
            return NO_DURATION
        return f"p50 {duration_words(self.duration_p50)} · p90 {duration_words(self.duration_p90)}"


@dataclass(frozen=True)
class KindBreakdown:
    """The period's changes of one kind: how many, how many failed or were rolled back, how
    many were suspects of an incident, and how many were confirmed as the cause of one."""

    kind: str
    label: str
    changes: int
    failed: int
    suspected: int
    confirmed: int
    per_week: float
    cause_share: float  # of the period's confirmed causes, 0..1

    @property
    def cause_share_text(self) -> str:
        return percent(self.cause_share) if self.confirmed else NO_DURATION


@dataclass(frozen=True)
class Report:
    since: datetime
    accuracy: Accuracy | None  # all teams; None without any confirmed cause
    accuracy_by_team: list[Accuracy]
    delivery_by_team: list[Delivery]
    delivery_by_component: list[Delivery]
    charts: dict[str, Chart]
    kinds: list[KindBreakdown]  # every kind, in ChangeEvent.Kind order

    @property
    def has_changes(self) -> bool:
        return any(row.changes for row in self.kinds)


def insights_report(*, now: datetime) -> Report:
    """Everything the Insights page shows for the 90 days before `now`, in five queries."""
    since = now - PERIOD
    by_team = ranking_accuracy(since=since)
    overall = (
        Accuracy(
            label="All teams",
            incidents=sum(row.incidents for row in by_team),
            hit1=sum(row.hit1 for row in by_team),
            hit3=sum(row.hit3 for row in by_team),
            tiers=tuple(
                TierAccuracy(
                    confidence=tier.value,
                    label=tier.label,
                    incidents=sum(row.tiers[index].incidents for row in by_team),
                    hits=sum(row.tiers[index].hits for row in by_team),
                )
                for index, tier in enumerate(SuspectChange.Confidence)
            ),
        )
        if by_team
        else None
    )
    durations = deployment_durations(since=since, until=now)
    teams = delivery(since=since, until=now, by="team", durations=durations["team"])
    components = delivery(
        since=since,
        until=now,
        by="component",
        limit=BUSIEST_COMPONENTS,
        durations=durations["component"],
    )
    charts = {
        "accuracy": accuracy_chart([overall, *by_team] if overall else []),
        "team_frequency": frequency_chart("team_frequency", "Deployments per week by team", teams),
        "team_failures": failure_chart("team_failures", "Change failure rate by team", teams),
        "component_frequency": frequency_chart(
            "component_frequency", "Deployments per week by component", components
        ),
        "component_failures": failure_chart(
            "component_failures", "Change failure rate by component", components
        ),
    }
    return Report(
        since=since,
        accuracy=overall,
        accuracy_by_team=by_team,
        delivery_by_team=teams,
        delivery_by_component=components,
        charts=charts,
        kinds=changes_by_kind(since=since, until=now),
    )


def ranking_accuracy(*, since: datetime) -> list[Accuracy]:
    """hit@1 and hit@3 per team (the incident's team), over incidents that started since
    `since` with at least one suspect confirmed as the cause, and per confidence tier how
    often the tier's top suspect was the confirmed cause. One query."""
    confirmed = SuspectChange.objects.filter(
        incident=OuterRef("pk"), verdict=SuspectChange.Verdict.CONFIRMED
    )
    tiers = {}
    for tier in SuspectChange.Confidence:
        of_tier = SuspectChange.objects.filter(incident=OuterRef("pk"), confidence=tier)
        better_of_tier = SuspectChange.objects.filter(
            incident=OuterRef("incident"), confidence=tier, rank__lt=OuterRef("rank")
        )
        tier_top_confirmed = confirmed.filter(confidence=tier).exclude(Exists(better_of_tier))
        tiers[f"{tier.value}_incidents"] = Count("id", filter=Q(Exists(of_tier)))
        tiers[f"{tier.value}_hits"] = Count("id", filter=Q(Exists(tier_top_confirmed)))
    rows = (
        Incident.objects.filter(started_at__gte=since)
        .filter(Exists(confirmed))
        .values("team__slug", "team__name")
        .annotate(
            incidents=Count("id"),
            hit1=Count("id", filter=Q(Exists(confirmed.filter(rank=1)))),
            hit3=Count("id", filter=Q(Exists(confirmed.filter(rank__lte=3)))),
            **tiers,
        )
        .order_by("team__name", "team__slug")
    )
    accuracy = [
        Accuracy(
            label=row["team__name"] or NO_TEAM,
            incidents=row["incidents"],
            hit1=row["hit1"],
            hit3=row["hit3"],
            tiers=tuple(
                TierAccuracy(
                    confidence=tier.value,
                    label=tier.label,
                    incidents=row[f"{tier.value}_incidents"],
                    hits=row[f"{tier.value}_hits"],
                )
                for tier in SuspectChange.Confidence
            ),
        )
        for row in rows
    ]
    return sorted(accuracy, key=lambda row: (row.label == NO_TEAM, row.label.lower()))


def changes_by_kind(*, since: datetime, until: datetime) -> list[KindBreakdown]:
    """Every kind of change with the period's logical changes of it (running ones included),
    those that failed or were rolled back, and those that were a suspect of an incident or its
    confirmed cause. One query, one row per kind."""
    suspects = SuspectChange.objects.filter(change=OuterRef("pk"))
    rows = (
        ChangeEvent.objects.logical()
        .filter(occurred_at__gte=since, occurred_at__lte=until)
        .values("kind")
        .annotate(
            change_count=Count("id"),
            failed_count=Count(
                "id",
                filter=Q(outcome=ChangeEvent.Outcome.FAILED) | Q(rolled_back_by__isnull=False),
            ),
            suspect_count=Count("id", filter=Q(Exists(suspects))),
            confirmed_count=Count(
                "id", filter=Q(Exists(suspects.filter(verdict=SuspectChange.Verdict.CONFIRMED)))
            ),
        )
        .order_by("kind")
    )
    counts: dict[str, list[int]] = {kind: [0, 0, 0, 0] for kind in ChangeEvent.Kind.values}
    for row in rows:
        # A kind this release does not know counts as "other", as the deployments page has it.
        known = row["kind"] if row["kind"] in counts else ChangeEvent.Kind.OTHER
        for index, name in enumerate(("change", "failed", "suspect", "confirmed")):
            counts[known][index] += row[f"{name}_count"]
    weeks = (until - since) / timedelta(weeks=1)
    causes = sum(confirmed for *_, confirmed in counts.values()) or 1
    return [
        KindBreakdown(
            kind=kind.value,
            label=kind.label,
            changes=changes,
            failed=failed,
            suspected=suspected,
            confirmed=confirmed,
            per_week=round(changes / weeks, 1),
            cause_share=confirmed / causes,
        )
        for kind in ChangeEvent.Kind
        for changes, failed, suspected, confirmed in [counts[kind.value]]
    ]


def deployments(*, since: datetime, until: datetime) -> QuerySet[ChangeEvent]:
    """Logical deployments and rollbacks to production that finished (succeeded or failed)
    in the period: one row per rollout, however many pipelines reported it."""
    return (
        ChangeEvent.objects.logical()
        .filter(
            occurred_at__gte=since,  # a finished change occurred when it finished
            occurred_at__lte=until,
            kind__in=(ChangeEvent.Kind.DEPLOYMENT, ChangeEvent.Kind.ROLLBACK),
            # A running change is neither a success nor a failure yet; a cancelled one never
            # reached production, so it is no deployment, and no failure either.
            outcome__in=(ChangeEvent.Outcome.SUCCEEDED, ChangeEvent.Outcome.FAILED),
        )
        .annotate(environment_name=Lower("environment"))
        .filter(environment_name__in=PRODUCTION_ENVIRONMENTS)
    )


def _group(by: Grouping) -> Coalesce:
    """The team (the pipeline's, else the component owner's) or the component (the catalog
    name, else the name as sent) a deployment counts for; null when it names none."""
    if by == "team":
        # The team stored on the change (changes.ownership: the pipeline's, a manual change's
        # component owner), and for a pipeline without a team its component's owner too.
        return Coalesce("team__name", "resolved_component__owner_team__name")
    return Coalesce("resolved_component__name", NullIf("component", Value("")))


def delivery(
    *,
    since: datetime,
    until: datetime,
    by: Grouping,
    limit: int = 100,
    durations: Mapping[str, Sequence[timedelta]] | None = None,
) -> list[Delivery]:
    """Deployment frequency and change failure rate per team or per component (see `_group`):
    the `limit` busiest, busiest first, with the p50 and p90 of `durations` (shortest first,
    by label, as `deployment_durations` gives them). One query.

    A deployment failed when a rollback undid it later (DORA counts changes that needed
    remediation), or when an incident on its component started while it rolled out or within
    FAILURE_WINDOW after it finished."""
    followed_by_incident = IncidentComponent.objects.filter(
        Q(component_id=OuterRef("resolved_component_id")) | Q(name=OuterRef("component")),
        incident__started_at__gt=OuterRef("started_at"),
        incident__started_at__lte=OuterRef("finished_at") + FAILURE_WINDOW,
    )
    missing = MISSING[by]
    durations = durations or {}
    rows = (
        deployments(since=since, until=until)
        .annotate(group=_group(by))
        .values("group")
        .annotate(
            deployment_count=Count("id"),
            failure_count=Count(
                "id",
                filter=Q(rolled_back_by__isnull=False) | Q(Exists(followed_by_incident)),
            ),
        )
        .order_by("-deployment_count", "group")[:limit]
    )
    weeks = (until - since) / timedelta(weeks=1)
    result = []
    for row in rows:
        label = row["group"] or missing
        spans = durations.get(label, ())
        result.append(
            Delivery(
                label=label,
                deployments=row["deployment_count"],
                failures=row["failure_count"],
                per_week=round(row["deployment_count"] / weeks, 1),
                duration_p50=percentile(spans, 0.5) if spans else None,
                duration_p90=percentile(spans, 0.9) if spans else None,
            )
        )
    return sorted(
        result, key=lambda row: (-row.deployments, row.label == missing, row.label.lower())
    )


def deployment_durations(
    *, since: datetime, until: datetime
) -> dict[Grouping, dict[str, list[timedelta]]]:
    """How long the period's deployments took, start to finish, shortest first, by team label
    and by component label (as `delivery` labels them). Only deployments with a real span
    count: a producer that reports a change once gives an instant, which is no duration.
    One query; its rows are bounded by the period's deployments, one duration each."""
    rows = (
        deployments(since=since, until=until)
        .filter(started_at__lt=F("finished_at"))
        .annotate(
            team_label=_group("team"),
            component_label=_group("component"),
            duration=F("finished_at") - F("started_at"),
        )
        .values_list("team_label", "component_label", "duration")
        .order_by("duration")
    )
    durations: dict[Grouping, dict[str, list[timedelta]]] = {
        "team": defaultdict(list),
        "component": defaultdict(list),
    }
    for team, component, duration in rows:
        durations["team"][team or NO_TEAM].append(duration)
        durations["component"][component or NO_COMPONENT].append(duration)
    return durations


def percentile(values: Sequence[timedelta], share: float) -> timedelta:
    """The `share` (0..1) percentile of `values`, sorted and not empty, interpolated between
    the nearest two as PostgreSQL's percentile_cont does."""
    position = (len(values) - 1) * share
    lower = floor(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)
