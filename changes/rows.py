"""A change's row on the deployments and component pages, built in Python: fifty of them on
every view and every poll, where a template include per row cost more than the page's queries."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from changes.models import ChangeEvent
from changes.presenters import row_text
from changes.templatetags.change_status import status_badge
from common.templatetags.whatchanged import moment, safe_href

LINKS_SHOWN = 3
LINK_TEXT_LIMIT = 20


def change_row(change: ChangeEvent, *, new: bool = False, oob: bool = False) -> SafeString:
    """The `<tr>`: when, component, version, environment, kind, status, what, who, pipeline
    (with its team and the other pipelines that reported it), links. Everything escaped."""
    cells = (
        format_html('<td class="when">{}</td>', moment(change.occurred_at)),
        _component_cell(change),
        _version_cell(change),
        format_html('<td class="environment">{}</td>', change.environment or "—"),
        format_html(
            '<td class="kind-cell"><span class="change-kind kind-{}">{}</span></td>',
            change.kind,
            change.get_kind_display(),
        ),
        _status_cell(change),
        _summary_cell(change),
        format_html('<td class="who">{}</td>', _who(change)),
        _pipeline_cell(change),
        _links_cell(change),
    )
    return format_html(
        '<tr id="change-{}" class="change{}"{}{}>\n  {}\n</tr>',
        change.pk,
        " is-failed" if change.outcome == ChangeEvent.Outcome.FAILED else "",
        mark_safe(" data-new") if new else "",
        mark_safe(' hx-swap-oob="true"') if oob else "",
        format_html_join("\n  ", "{}", ((cell,) for cell in cells)),
    )


def _component_cell(change: ChangeEvent) -> SafeString:
    catalog = change.resolved_component.name if change.resolved_component_id else ""
    aside = catalog if catalog and catalog != change.component else ""
    return format_html(
        '<td class="component-cell" title="{}{}"><a href="{}" class="component">{}</a>{}</td>',
        change.component,
        f" ({aside})" if aside else "",
        reverse("changes:detail", args=[change.pk]),
        change.component or "—",
        format_html(' <span class="muted">({})</span>', aside) if aside else "",
    )


def _version_cell(change: ChangeEvent) -> SafeString:
    if not change.version:
        return mark_safe('<td class="version"><span class="muted">—</span></td>')
    return format_html(
        '<td class="version"><code title="{}">{}</code></td>', change.version, change.version
    )


def _status_cell(change: ChangeEvent) -> SafeString:
    running = (
        format_html('<input type="hidden" name="running" value="{}">', change.pk)
        if change.status == ChangeEvent.Outcome.STARTED
        else ""
    )
    return format_html('<td class="status">{}{}</td>', status_badge(change), running)


def _summary_cell(change: ChangeEvent) -> SafeString:
    text = row_text(change)
    return format_html(
        '<td class="summary"{}>{}{}</td>',
        format_html(' title="{}"', text.title) if text.title else "",
        format_html('<span class="summary-text">{}</span>', text.summary) if text.summary else "",
        format_html(' <span class="muted description">{}</span>', text.first_line)
        if text.first_line
        else "",
    )


def _who(change: ChangeEvent) -> str:
    if change.triggered_by:
        return change.triggered_by
    return (change.author.get_username() if change.author_id else "") or "—"


def _pipeline_cell(change: ChangeEvent) -> SafeString:
    pipeline = change.pipeline
    owner = change.resolved_component.owner_team if change.resolved_component_id else None
    team = (pipeline.team.name if pipeline and pipeline.team_id else "") or (
        owner.name if owner else ""
    )
    others = ", ".join(
        (report.pipeline.name if report.pipeline_id else "") or "a deleted pipeline"
        for report in change.also_reported.all()
    )
    title = (pipeline.name if pipeline else "manual") + (f" · team {team}" if team else "")
    if others:
        title += f" · also reported by {others}"
    return format_html(
        '<td class="pipeline-cell" title="{}">{}{}{}</td>',
        title,
        pipeline.name if pipeline else mark_safe('<span class="badge">manual</span>'),
        format_html(' <span class="muted team">· {}</span>', team) if team else "",
        format_html(' <span class="muted also-reported">also reported by {}</span>', others)
        if others
        else "",
    )


def _links_cell(change: ChangeEvent) -> SafeString:
    links = (
        (href, Truncator(link.get("text") or "link").chars(LINK_TEXT_LIMIT))
        for link in change.links[:LINKS_SHOWN]
        if isinstance(link, dict) and (href := safe_href(link.get("href")))
    )
    anchors = format_html_join(
        "", '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a> ', links
    )
    commit = (
        format_html('<code title="{}">{}</code>', change.commit, change.commit[:7])
        if change.commit
        else ""
    )
    return format_html('<td class="links">{}{}</td>', anchors, commit)
