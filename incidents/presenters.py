"""What the incident pages say: the page's view objects, suspects and timeline in words, and the
postmortem Markdown. Pure functions of rows already loaded: no queries here."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from changes.models import ChangeEvent
from common.times import duration_words, minutes_words
from incidents.models import Incident, IncidentComponent, SuspectChange, TimelineEntry
from pipelines.models import DeploymentPipeline
from teams.models import Team

# A change that reached us later than this after it happened is flagged on the incident page.
LATE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Link:
    href: str  # http(s) only
    text: str


@dataclass(frozen=True)
class Evidence:
    """What an engineer acts on, from the change row alone (no query): the version, the commit
    (linked when the producer told us where it lives), the producer's links, who, and the
    description's first line."""

    version: str
    commit: str
    commit_url: str  # "" when nothing says where the commit lives
    links: list[Link]
    actor: str
    description_line: str  # "" when it says nothing the summary does not


@dataclass(frozen=True)
class SuspectView:
    suspect: SuspectChange
    sentence: str
    late_by: timedelta | None  # received_at - occurred_at, when over LATE_AFTER
    late_text: str  # "14 min", or "" when it was not late
    evidence: Evidence | None = None


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    kind: str  # a TimelineEntry.Kind value, or "change"
    text: str
    entry: TimelineEntry | None = None
    suspect: SuspectView | None = None


@dataclass(frozen=True)
class PipelineView:
    pipeline: DeploymentPipeline
    sent_in_window: bool
    last_heard_at: datetime | None
    is_silent: bool  # nothing heard for SILENT_AFTER, or never


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
    reported: list[PipelineView]  # sent something in the window
    quiet: list[PipelineView]  # sent nothing in the window (but lately, yes)
    silent: list[PipelineView]  # silent for days, or never heard from
    uncatalogued: list[str]  # component names not in the catalog
    is_account_wide: bool  # no scoped team has a pipeline: every change was considered
    is_correlated: bool


@dataclass(frozen=True)
class Conclusion:
    """What the suspects add up to, in words: `confidence` is the best tier's (high: likely
    cause; medium: possible causes; low: no change of the incident's components or their
    dependencies)."""

    confidence: str
    text: str


@dataclass(frozen=True)
class IncidentPage:
    incident: Incident
    components: list[IncidentComponent]
    conclusion: Conclusion | None  # None until the incident has been correlated
    suspects: list[SuspectView]
    timeline: list[TimelineRow]
    blind_spots: BlindSpots
    duration: timedelta
    duration_text: str
    cursor: str
    markdown: str


# --- Words ------------------------------------------------------------------------------------

_VERBS = {
    # kind: (succeeded, failed, started)
    ChangeEvent.Kind.DEPLOYMENT: ("deployed", "failed to deploy", "started deploying"),
    ChangeEvent.Kind.ROLLBACK: ("rolled back", "failed to roll back", "started rolling back"),
    ChangeEvent.Kind.CONFIG: ("config changed", "config change failed", "config change started"),
    # A flag's verb on success comes from its summary (see _flag_verb).
    ChangeEvent.Kind.FEATURE_FLAG: ("changed", "failed to change", "started changing"),
    ChangeEvent.Kind.INFRASTRUCTURE: ("applied", "failed to apply", "started applying"),
    ChangeEvent.Kind.MANUAL: ("changed by hand", "manual change failed", "manual change started"),
}
# Cancelled, for the kinds whose name already says what they are; else "<kind> cancelled".
_CANCELLED = {
    ChangeEvent.Kind.FEATURE_FLAG: "change cancelled",
    ChangeEvent.Kind.INFRASTRUCTURE: "apply cancelled",
}
_OUTCOME_INDEX = {ChangeEvent.Outcome.FAILED: 1, ChangeEvent.Outcome.STARTED: 2}
# What a flag change did, as the producers' summaries say it ("Turned on checkout-new-pricing",
# "Deleted checkout-new-pricing in Production (was on)"): the first of these words in the
# summary, once the flag's own key is taken out of it.
_FLAG_ACTION = re.compile(
    r"\b(turned on|switched on|enabled|turned off|switched off|disabled|deleted|archived"
    r"|restored|created|targeting)\b",
    re.IGNORECASE,
)
_FLAG_VERBS = {
    "turned on": "turned on",
    "switched on": "turned on",
    "enabled": "turned on",
    "turned off": "turned off",
    "switched off": "turned off",
    "disabled": "turned off",
    "deleted": "deleted",
    "archived": "archived",
    "restored": "restored",
    "created": "created",
    "targeting": "re-targeted",
}
_ROLLING_OUT = re.compile(r"^rolling out at the start \(started (\d+) minutes? before\)$")
_BEFORE = re.compile(r"^(\d+) minutes? before$")
_AFTER = re.compile(r"^(\d+) minutes? after the start$")
# Said by the verb already, or what every suspect has in common.
_UNSAID = re.compile(r"^(failed deployment|rollback|same environment \(.*\))$")
_REASON_WORDS = {"component match": "same component"}


def _flag_verb(change: ChangeEvent) -> str:
    # A key such as "show-deleted-items" must not say what happened to it.
    summary = change.summary.replace(change.version, " ") if change.version else change.summary
    action = _FLAG_ACTION.search(summary)
    return _FLAG_VERBS[action.group(1).lower()] if action else "changed"


def change_verb(change: ChangeEvent) -> str:
    """What happened to the change, by kind and outcome: 'deployed', 'failed to apply',
    'turned on' (a flag, as its summary says)."""
    if change.outcome == ChangeEvent.Outcome.CANCELLED:
        return _CANCELLED.get(change.kind, f"{change.get_kind_display().lower()} cancelled")
    if change.kind == ChangeEvent.Kind.FEATURE_FLAG and change.outcome not in _OUTCOME_INDEX:
        return _flag_verb(change)
    verbs = _VERBS.get(change.kind, ("changed", "change failed", "change started"))
    return verbs[_OUTCOME_INDEX.get(change.outcome, 0)]


def change_name(change: ChangeEvent) -> str:
    """What changed, as an engineer would name it: 'payments-service v4.7.0', 'flag
    checkout-new-pricing' (flag producers put the flag's key in `version`), 'payments-db
    infrastructure'."""
    if change.kind == ChangeEvent.Kind.FEATURE_FLAG:
        return f"flag {change.version or change.component or change.summary[:80] or 'unnamed'}"
    if change.kind == ChangeEvent.Kind.INFRASTRUCTURE and change.component:
        return f"{change.component} infrastructure"
    name = change.component or change.summary[:80] or "A change"
    version = change.version or change.commit[:7]
    return f"{name} {version}" if version else name


def _actor(change: ChangeEvent) -> str:
    # `author` only when there is one: no query for a change reported by a pipeline.
    if change.triggered_by:
        return change.triggered_by
    return change.author.get_username() if change.author_id and change.author else ""


def change_phrase(change: ChangeEvent) -> str:
    """The change and what happened to it: 'payments-service v4.7.0 deployed'. A flag says
    where and by whom too, which is most of what there is to know about it: 'flag
    checkout-new-pricing turned on for production by dana@example.com'."""
    phrase = f"{change_name(change)} {change_verb(change)}"
    if change.kind == ChangeEvent.Kind.FEATURE_FLAG:
        if change.environment:
            phrase += f" for {change.environment}"
        actor = _actor(change)
        if actor:
            phrase += f" by {actor}"
    return phrase


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
    head = change_phrase(change)
    rest = []
    for reason in suspect.reasons:
        timing = _timing_words(reason)
        rolling = _ROLLING_OUT.match(reason)
        if rolling:
            started = minutes_words(int(rolling.group(1)))
            head = (
                f"{change_name(change)} was rolling out when the alarm fired "
                f"(started {started} before)"
            )
            if not change.is_running:
                rest.append(change.get_outcome_display().lower())
        elif timing is not None:
            head = f"{head} {timing}"
        elif not _UNSAID.match(reason):
            rest.append(_REASON_WORDS.get(reason, reason))
    if change.rolled_back_by_id:
        rest.append("rolled back since")
    return " · ".join([head, *rest])


def conclusion(
    incident: Incident, suspects: Sequence[SuspectChange], component_names: Sequence[str]
) -> Conclusion | None:
    """The page's and the API's first words about the suspects, once correlation has run."""
    if incident.correlated_at is None:
        return None
    ranked = sorted(suspects, key=lambda suspect: suspect.rank)
    confidences = {suspect.confidence for suspect in ranked}
    if ranked and ranked[0].confidence == SuspectChange.Confidence.HIGH:
        return Conclusion("high", f"Likely cause: {describe_suspect(ranked[0])}")
    if confidences & {SuspectChange.Confidence.HIGH, SuspectChange.Confidence.MEDIUM}:
        return Conclusion("medium", "Possible causes")
    names = ", ".join(component_names) or "the incident's components"
    source = incident.alert_source
    window = source.window_minutes if source else 60
    return Conclusion(
        "low",
        f"No change of {names} or its dependencies in the {window} minutes before the alarm",
    )


# A commit id, as GitHub and GitLab accept it in a URL path: hex only, so nothing else rides in.
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
LINKS_SHOWN = 5
DESCRIPTION_LINE_LENGTH = 200


def _safe_href(url: object) -> str:
    text = str(url or "").strip()
    return text if urlsplit(text).scheme.lower() in {"http", "https"} else ""


def commit_url(change: ChangeEvent) -> str:
    """Where the change's commit can be read, or "": a GitLab "Commit" link as the producer
    sent it; a GitHub pipeline's `metadata.repository` ("owner/repo"); or a repository URL on
    github.com or a GitLab host (Argo CD's repoURL, Jenkins' SCM URL). Needs the pipeline
    loaded with the change (the incident page selects it)."""
    for link in change.links or ():
        if isinstance(link, dict) and str(link.get("text", "")).strip().lower() == "commit":
            href = _safe_href(link.get("href"))
            if href:
                return href
    if not _COMMIT.match(change.commit or ""):
        return ""
    metadata = change.metadata if isinstance(change.metadata, dict) else {}
    repository = str(metadata.get("repository") or "").strip()
    pipeline = change.pipeline if change.pipeline_id else None
    if (
        pipeline is not None
        and pipeline.kind == DeploymentPipeline.Kind.GITHUB
        and _REPOSITORY.match(repository)
    ):
        return f"https://github.com/{repository}/commit/{change.commit}"
    parts = urlsplit(_safe_href(repository))
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/").removesuffix(".git")
    if not path.strip("/") or parts.query or parts.fragment:
        return ""
    base = f"{parts.scheme}://{parts.netloc}{path}"
    if host == "github.com":
        return f"{base}/commit/{change.commit}"
    if host.startswith("gitlab.") or host == "gitlab.com":
        return f"{base}/-/commit/{change.commit}"
    return ""


def _first_line(text: str) -> str:
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            if len(line) > DESCRIPTION_LINE_LENGTH:
                return line[: DESCRIPTION_LINE_LENGTH - 1] + "…"
            return line
    return ""


def evidence(change: ChangeEvent) -> Evidence:
    """The suspect card's evidence: pure, from the row and its selected pipeline and author."""
    url = commit_url(change)
    links = []
    for link in change.links or ():
        if not isinstance(link, dict):
            continue
        href = _safe_href(link.get("href"))
        if not href or href == url:
            continue
        text = str(link.get("text") or "").strip() or urlsplit(href).hostname or "link"
        links.append(Link(href=href, text=text[:80]))
    line = _first_line(change.description)
    return Evidence(
        version=change.version,
        commit=change.commit,
        commit_url=url,
        links=links[:LINKS_SHOWN],
        actor=_actor(change),
        description_line="" if line == change.summary.strip() else line,
    )


def lateness(suspect: SuspectChange) -> timedelta | None:
    """How long after it happened the change reached us, when that is over a minute."""
    late = suspect.change.received_at - suspect.change.occurred_at
    return late if late > LATE_AFTER else None


def change_event_text(suspect: SuspectChange) -> str:
    """A suspect change as a timeline event: 'payments-service v4.7.0 deployed by dana-ops'."""
    change = suspect.change
    if change.kind == ChangeEvent.Kind.FEATURE_FLAG:
        return change_phrase(change)  # says who already
    by = _actor(change)
    return change_phrase(change) + (f" by {by}" if by else "")


def entry_text(entry: TimelineEntry, incident: Incident) -> str:
    """A timeline entry in words."""
    actor = entry.actor or "someone"
    if entry.kind == TimelineEntry.Kind.ALERT:
        return f"Alert from {actor}: {entry.data.get('title') or incident.title}"
    if entry.kind == TimelineEntry.Kind.REPEAT:
        return f"Alert repeated ({actor})"
    if entry.kind in (TimelineEntry.Kind.JOINED, TimelineEntry.Kind.ALERT_RESOLVED):
        return f"{entry.data.get('text', '')} ({actor})"
    if entry.kind == TimelineEntry.Kind.NOTE:
        return f"{actor}: {entry.data.get('text', '')}"
    if entry.kind == TimelineEntry.Kind.VERDICT:
        return _verdict_text(actor, entry.data)
    if entry.kind == TimelineEntry.Kind.RESOLVED and entry.data.get("reason"):
        return f"Resolved: {entry.data['reason']} ({actor})"
    return f"{entry.get_kind_display()} by {actor}"


def _verdict_text(actor: str, data: dict) -> str:
    change = data.get("change") or "a change"
    if data.get("verdict") == SuspectChange.Verdict.CONFIRMED:
        return f"{actor} marked {change} as the confirmed cause"
    if data.get("verdict") == SuspectChange.Verdict.UNRELATED:
        return f"{actor} marked {change} as not related"
    return f"{actor} cleared the verdict on {change}"


def _suspect_note(row: TimelineRow) -> str:
    if row.suspect is None:
        return ""
    summary = row.suspect.suspect.change.summary
    return f" (suspect #{row.suspect.suspect.rank})" + (f": {_md(summary)}" if summary else "")


# Markdown's punctuation that is markup wherever it stands (emphasis, code, links and images,
# headings, tables, strikethrough), backslash-escaped; HTML's as entities, which every Markdown
# flavour decodes as text (a backslash before `<` is not escaping in all of them).
_MARKDOWN_ESCAPES = str.maketrans(
    {
        **{char: "\\" + char for char in "\\`*_{}[]()#!|~"},
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
# `-`, `+`, `=` and `1.` are markup only at a line's start (a list, a rule, a heading's
# underline): producer text is one line after our own words, so only its start is escaped,
# which keeps `payments-service v4.7.0` readable.
_LEADING_MARKER = re.compile(r"^(?:([-+=])|(\d+)\.)")
# What stays as is in a link's destination: the URL's own delimiters and `%` of its escapes;
# spaces, parentheses, angle brackets, quotes, `|` and backslashes are percent-encoded.
_URL_SAFE = "/:?#[]@!$&*+,;=%~-._"


def _md(text: object) -> str:
    """Producer (or user) text made inert in Markdown: one line, every Markdown and HTML special
    character escaped, so `![x](https://…)`, `<img …>` or `# heading` show as written. For a
    list item, a table cell or a heading after our own markup. A sentence that mixes our words
    with producer names (a suspect's, a timeline row's) goes through whole: what it escapes in
    our words renders as it was."""
    line = " ".join(str(text).split()).translate(_MARKDOWN_ESCAPES)
    return _LEADING_MARKER.sub(
        lambda marker: f"\\{marker[1]}" if marker[1] else f"{marker[2]}\\.", line
    )


def _md_link(href: object, text: object = "") -> str:
    """`[text](href)` for an http(s) href (percent-encoded where Markdown would end or break the
    destination), else the text alone, escaped: no `javascript:` or other scheme gets a link."""
    url = _safe_href(href)
    if not url:
        return _md(text or href)
    return f"[{_md(text or url)}]({quote(url, safe=_URL_SAFE)})"


def _evidence_links(found: Evidence | None) -> str:
    """' — [commit 1a2b3c4](…) · [Build](…)': the suspect card's links, or ""."""
    if found is None:
        return ""
    links = [Link(found.commit_url, f"commit {found.commit[:7]}")] if found.commit_url else []
    links += found.links
    return " — " + " · ".join(_md_link(link.href, link.text) for link in links) if links else ""


def _utc(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def _names(items: Iterable[str]) -> str:
    return ", ".join(_md(item) for item in items) or "none"


def component_label(row: IncidentComponent) -> str:
    """The catalog's name with the alias the alert used: 'payments-service (alias
    payments-prod)'; the name as sent when it is not catalogued. Needs `component` loaded."""
    catalogued = row.component.name if row.component_id and row.component else ""
    if catalogued and catalogued != row.name:
        return f"{catalogued} (alias {row.name})"
    return row.name


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
        f"- **Components:** {_names(component_label(row) for row in page.components)}",
        f"- **Started:** {_utc(incident.started_at)}",
    ]
    if incident.acknowledged_at:
        lines.append(f"- **Acknowledged:** {_utc(incident.acknowledged_at)}")
    if incident.resolved_at:
        lines.append(f"- **Resolved:** {_utc(incident.resolved_at)}")
    lines.append(f"- **Duration:** {duration_words(page.duration)}")
    if url:
        lines.append(f"- **Link:** {url}")
    links = [link for link in incident.links or () if isinstance(link, dict)]
    if links:
        shown = (_md_link(link.get("href"), link.get("text")) for link in links)
        lines.append(f"- **Links:** {' · '.join(shown)}")
    confirmed = [s for s in page.suspects if s.suspect.verdict == SuspectChange.Verdict.CONFIRMED]
    lines += ["", "## Cause", ""]
    lines += [f"- Confirmed: {_md(s.sentence)}" for s in confirmed] or ["- Not confirmed yet."]
    if page.conclusion is not None:
        lines.append(
            f"- Whatchanged's conclusion ({page.conclusion.confidence} confidence): "
            f"{_md(page.conclusion.text)}"
        )
    lines += ["", "## Suspect changes", ""]
    for view in page.suspects[:10]:
        verdict = (
            f" — **{view.suspect.get_verdict_display().lower()}**" if view.suspect.verdict else ""
        )
        confidence = view.suspect.get_confidence_display().lower()
        lines.append(
            f"{view.suspect.rank}. {_md(view.sentence)} ({confidence} confidence)"
            f"{verdict}{_evidence_links(view.evidence)}"
        )
    if not page.suspects:
        lines.append("No changes in the correlation window.")
    lines += ["", "## Timeline", "", "| Time | Event | Type |", "|---|---|---|"]
    lines += [
        f"| {_utc(row.at)} | {_md(row.text)}{_suspect_note(row)} | {row.kind} |"
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
    if spots.reported:
        lines.append(f"- Reported in the window: {_names(v.pipeline.name for v in spots.reported)}")
    lines += [f"- Sent nothing in the window: {_md(v.pipeline.name)}" for v in spots.quiet]
    lines += [f"- Silent for days: {_md(v.pipeline.name)}" for v in spots.silent]
    lines += [f"- Not in the catalog: {_md(name)}" for name in spots.uncatalogued]
    lines += [
        f"- Arrived late: {_md(change_name(view.suspect.change))}, {view.late_text} after it "
        "happened"
        for view in page.suspects
        if view.late_by
    ]
    return "\n".join(lines) + "\n"
