"""The Insights page's charts: horizontal bars with a label line above each row, as plain data
for the inline SVG of templates/incidents/_chart.html."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rows the page's charts draw; insights imports this module
    from incidents.insights import Accuracy, Delivery

TRACK = 72.0  # percent of a chart's width its bars may take; their values follow


@dataclass(frozen=True)
class Bar:
    series: str  # CSS class
    width: str  # of the chart's width, in percent
    y: int
    text: str
    text_x: str


@dataclass(frozen=True)
class ChartRow:
    label: str
    title: str  # the full label, when `label` is shortened
    detail: str
    y: int
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    rows: list[ChartRow]
    height: int
    track: str = f"{TRACK:.0f}"  # percent of the width the bars' track takes


LABEL_HEIGHT = 20
BAR_HEIGHT = 10
BAR_GAP = 4
ROW_GAP = 12
LABEL_LENGTH = 28


def percent(part: float) -> str:
    return f"{part * 100:.0f}%"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1] + "…"


def bar_chart(
    slug: str, title: str, rows: list[tuple[str, str, list[tuple[str, float, str]]]]
) -> Chart:
    """A chart from (label, detail, [(series, share 0..1, value text)]) rows."""
    chart_rows, y = [], 0
    for label, detail, bars in rows:
        row_y = y + LABEL_HEIGHT - 6
        y += LABEL_HEIGHT
        chart_bars = []
        for series, share, text in bars:
            width = max(0.0, min(1.0, share)) * TRACK
            chart_bars.append(
                Bar(
                    series=series,
                    width=f"{width:.2f}",
                    y=y,
                    text=text,
                    text_x=f"{TRACK + 2:.0f}",
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        chart_rows.append(
            ChartRow(label=_short(label), title=label, detail=detail, y=row_y, bars=chart_bars)
        )
        y += ROW_GAP
    return Chart(slug=slug, title=title, rows=chart_rows, height=max(y, 1))


def accuracy_chart(rows: "list[Accuracy]") -> Chart:
    return bar_chart(
        "accuracy",
        "How often the confirmed cause was ranked first (hit@1) and in the top three (hit@3)",
        [
            (
                row.label,
                f"{row.incidents} incident{'s' if row.incidents != 1 else ''}",
                [
                    ("hit1", row.hit1_rate, f"hit@1 {percent(row.hit1_rate)}"),
                    ("hit3", row.hit3_rate, f"hit@3 {percent(row.hit3_rate)}"),
                ],
            )
            for row in rows
        ],
    )


def frequency_chart(slug: str, title: str, rows: "list[Delivery]") -> Chart:
    busiest = max((row.per_week for row in rows), default=0.0) or 1.0
    return bar_chart(
        slug,
        title,
        [
            (
                row.label,
                f"{row.deployments} deployment{'s' if row.deployments != 1 else ''}",
                [("frequency", row.per_week / busiest, f"{row.per_week:g} / week")],
            )
            for row in rows
        ],
    )


def failure_chart(slug: str, title: str, rows: "list[Delivery]") -> Chart:
    return bar_chart(
        slug,
        title,
        [
            (
                row.label,
                f"{row.failures} of {row.deployments}",
                [("failures", row.failure_rate, percent(row.failure_rate))],
            )
            for row in rows
        ],
    )
