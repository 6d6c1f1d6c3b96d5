"""The strip chart of the deployment-events page: changes per hour, stacked by kind, failures
marked.

Computed with one aggregate query (one row per hour and kind) and drawn as inline SVG by the
template; no JavaScript.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from changes.models import ChangeEvent
from common.cache import read_through, release

SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
HEIGHT = 48
BAR_GAP = 1
CHART_CACHE_SECONDS = 60
# Bumped when the cached StripChart changes shape: a web process of the new release must not
# draw an entry an older one cached.
CACHE_VERSION = 2
KIND_ORDER = tuple(ChangeEvent.Kind)  # the stacking order, from the foot up (after failures)


@dataclass(frozen=True)
class Segment:
    """The changes of one kind in one hour: `total` of them, `height` drawn for those that did
    not fail (failures are drawn together at the foot of the bar)."""

    kind: str
    label: str
    total: int
    y: float
    height: float


@dataclass(frozen=True)
class KindTotal:
    kind: str
    label: str
    total: int


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    height: float
    failed_height: float
    hour: datetime
    total: int
    failed: int
    segments: tuple[Segment, ...] = ()

    @property
    def y(self) -> float:
        return HEIGHT - self.height

    @property
    def failed_y(self) -> float:
        # Failures are drawn at the foot of the bar, in the failure colour.
        return HEIGHT - self.failed_height

    @property
    def breakdown(self) -> str:
        """'deployment 3, feature flag 1': the hour's changes by kind, for its tooltip."""
        return ", ".join(f"{segment.label.lower()} {segment.total}" for segment in self.segments)


@dataclass(frozen=True)
class StripChart:
    span: str
    bars: list[Bar]
    width: int
    height: int
    total: int
    failed: int
    kinds: tuple[KindTotal, ...] = ()  # the kinds seen in the span, for the legend


def _kind(value: str) -> ChangeEvent.Kind:
    """A stored kind, or `other` for a value this release does not know."""
    try:
        return ChangeEvent.Kind(value)
    except ValueError:
        return ChangeEvent.Kind.OTHER


def _segments(per_kind: dict[str, tuple[int, int]], *, failed: int, scale: float) -> list[Segment]:
    """Each kind's share of a bar, stacked above the failures: positions come from the running
    count, so rounding never leaves a gap or an overlap between two segments."""
    segments = []
    stacked = failed
    top = round(stacked * scale, 1)
    for kind in KIND_ORDER:
        total, kind_failed = per_kind.get(kind, (0, 0))
        if not total:
            continue
        bottom = top
        stacked += total - kind_failed
        top = round(stacked * scale, 1)
        segments.append(
            Segment(
                kind=kind.value,
                label=kind.label,
                total=total,
                y=round(HEIGHT - top, 1),
                height=round(top - bottom, 1),
            )
        )
    return segments


def changes_per_hour(changes: QuerySet[ChangeEvent], *, span: str = "24h") -> StripChart:
    """Hourly counts of `changes` (already filtered) over the span, in the viewer's time zone,
    by kind."""
    now = timezone.localtime()
    hours = int(SPANS[span].total_seconds() // 3600)
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    counts: dict[datetime, dict[str, tuple[int, int]]] = {}
    rows = (
        changes.order_by()
        .prefetch_related(None)  # counts, not rows: nothing to prefetch
        .filter(occurred_at__gte=first)
        .annotate(hour=TruncHour("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("hour", "kind")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(outcome="failed")))
    )
    for row in rows:
        per_kind = counts.setdefault(row["hour"], {})
        total, failed = per_kind.get(_kind(row["kind"]), (0, 0))
        per_kind[_kind(row["kind"])] = (total + row["total"], failed + row["failed"])
    totals = {
        hour: (sum(t for t, _ in per_kind.values()), sum(f for _, f in per_kind.values()))
        for hour, per_kind in counts.items()
    }
    peak = max((total for total, _ in totals.values()), default=0) or 1
    scale = HEIGHT / peak
    width = max(4, 720 // hours)
    bars = []
    for index in range(hours):
        hour = first + timedelta(hours=index)
        total, failed = totals.get(hour, (0, 0))
        bars.append(
            Bar(
                x=index * width,
                width=width - BAR_GAP,
                height=round(total * scale, 1),
                failed_height=round(failed * scale, 1),
                hour=hour,
                total=total,
                failed=failed,
                segments=tuple(_segments(counts.get(hour, {}), failed=failed, scale=scale)),
            )
        )
    kind_totals = {kind: 0 for kind in KIND_ORDER}
    for bar in bars:
        for segment in bar.segments:
            kind_totals[ChangeEvent.Kind(segment.kind)] += segment.total
    return StripChart(
        span=span,
        bars=bars,
        width=width * hours,
        height=HEIGHT,
        total=sum(bar.total for bar in bars),
        failed=sum(bar.failed for bar in bars),
        kinds=tuple(
            KindTotal(kind=kind.value, label=kind.label, total=total)
            for kind, total in kind_totals.items()
            if total
        ),
    )


def cached_changes_per_hour(
    changes: QuerySet[ChangeEvent], *, span: str = "24h", filters: str = ""
) -> StripChart:
    """changes_per_hour, kept for a minute per filter set, span and time zone: on a busy day its
    aggregate reads every change of the span (a hundred thousand rows for a busy 24 h), while
    its hourly bars barely move in a minute; the rows below stay live."""
    return read_through(
        _cache_key(span, filters),
        lambda: changes_per_hour(changes, span=span),
        timeout=CHART_CACHE_SECONDS,
    )


def live_changes_per_hour(
    changes: QuerySet[ChangeEvent], *, span: str, filters: str, moment: str
) -> StripChart:
    """changes_per_hour for the live poll once it has something new, so that the chart's total
    moves with the rows: exact at `moment` (the poll's new cursor and the rows it redraws), and
    kept per moment, so the viewers of one filter set polling at that moment share one
    aggregate instead of running one each."""
    page_key = _cache_key(span, filters)

    def compute() -> StripChart:
        # The page's own entry is older than this: a reload must not show fewer changes.
        release(page_key)
        return changes_per_hour(changes, span=span)

    moment_digest = hashlib.sha256(moment.encode()).hexdigest()[:16]
    return read_through(f"{page_key}:at:{moment_digest}", compute, timeout=CHART_CACHE_SECONDS)


def _cache_key(span: str, filters: str) -> str:
    digest = hashlib.sha256(filters.encode()).hexdigest()[:32]
    zone = timezone.get_current_timezone_name()
    return f"chart:v{CACHE_VERSION}:{span}:{zone}:{digest}"
