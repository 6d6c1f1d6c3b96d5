"""What a change's row says beside its fields: the words of its summary that are news, and the
first line of its description. Pure: no queries."""

import re
from dataclasses import dataclass

from changes.models import ChangeEvent

# A summary made of the row's own fields and these words says nothing the row does not:
# "Deployment payments-db v5.4.7 to production", "payments-service pipeline execution
# succeeded".
FILLER_WORDS = frozenset(
    "a an the to in on of for from at by into with and run ran started finished succeeded failed "
    "cancelled canceled rolled back rolling out deploy deployed deploying deployment deployments "
    "release released pipeline execution applied apply change changed changes".split()
)
WORD = re.compile(r"[^\s,;:()\[\]'\"`\u00b7\u2013\u2014]+")  # not spaces, punctuation, dashes
TITLE_LIMIT = 1000  # the hover text: the change page shows all of it


@dataclass(frozen=True)
class RowText:
    summary: str  # "" when it only repeats the row's fields (or the first line)
    first_line: str  # of the description
    title: str  # the summary and the whole description, for the hover


def _words(text: str) -> set[str]:
    return {word.strip(".!?").lower() for word in WORD.findall(text)} - {""}


def restates_fields(change: ChangeEvent) -> bool:
    """True when every word of the summary is one of the row's own fields or a filler word."""
    fields = _words(
        " ".join(
            (
                change.component,
                change.resolved_component.name if change.resolved_component_id else "",
                change.version,
                change.environment,
                change.kind,
                str(change.get_kind_display()),
                change.outcome,
                change.triggered_by,
                change.commit[:12],
                change.pipeline.name if change.pipeline_id else "",
            )
        )
    )
    return _words(change.summary) <= fields | FILLER_WORDS


def row_text(change: ChangeEvent) -> RowText:
    """The row's text cell: the summary unless it restates the fields, then the description's
    first line (shown muted, cut to one line by CSS), and the whole of both on hover."""
    description = change.description.strip()
    first_line = next((line.strip() for line in description.splitlines() if line.strip()), "")
    summary = change.summary.strip()
    if summary and (summary == first_line or restates_fields(change)):
        summary = ""
    title = "\n".join(part for part in (change.summary.strip(), description) if part)
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    return RowText(summary=summary, first_line=first_line, title=title)
