"""The incidents list's row, built in Python: the list shows up to a hundred of them, and the
template engine spent more on resolving each row's two dozen variables than the page spent on
all its queries (see incidents.selectors.list_rows for what a row carries). Like
common.widgets.FastSelect, it escapes with the standard library's escape, several times
faster than Django's lazy-aware one."""

from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from common.templatetags.whatchanged import moment
from incidents.models import Incident
from pipelines.models import Severity

register = template.Library()

_SEVERITIES = dict(Severity.choices)
_STATUSES = dict(Incident.Status.choices)


@register.simple_tag
def incident_row(incident: Incident, new_after: int | str = 0) -> SafeString:
    """One `<tr>` of the list, every text from payloads escaped; marked new when the incident
    is newer than `new_after` (the live poll's last incident id; "" when there is none)."""
    lasted = ""
    if incident.resolved_at:
        took = timesince(incident.started_at, incident.resolved_at)
        lasted = f' <span class="muted nowrap">after {escape(took)}</span>'
    alerts = ""
    if incident.repeat_count:
        received = incident.repeat_count + 1
        alerts = f' <span class="muted" title="alerts received">&times;{received}</span>'
    suspect = ""
    if incident.top_suspect_component is not None:
        what = escape(incident.top_suspect_component or "a change")
        version = escape(incident.top_suspect_version or "")
        suspect = (
            f'<div class="top-suspect"><span class="muted">Top suspect:</span> {what} {version}'
            "</div>"
        )
    components = (
        "".join(f'<span class="chip">{escape(name)}</span> ' for name in incident.component_names)
        or '<span class="muted">—</span>'
    )
    new = ' class="is-new"' if new_after and incident.pk > int(new_after) else ""
    href = reverse("incidents:detail", args=[incident.pk])
    return mark_safe(  # noqa: S308 - every value from a payload or a user is escaped above or here
        f"<tr{new}>\n"
        f'  <td class="incident-when">{moment(incident.started_at)}</td>\n'
        f'  <td><span class="badge severity-{escape(incident.severity)}">'
        f"{escape(_SEVERITIES.get(incident.severity, incident.severity))}</span></td>\n"
        f'  <td><span class="badge status-{escape(incident.status)}">'
        f"{escape(_STATUSES.get(incident.status, incident.status))}</span>{lasted}</td>\n"
        '  <td class="incident-title">\n'
        f'    <a href="{escape(href)}">{escape(incident.title)}</a>{alerts}\n'
        f"    {suspect}\n"
        "  </td>\n"
        f"  <td>{components}</td>\n"
        f"  <td>{escape(incident.alert_source_name or '—')}</td>\n"
        f"  <td>{escape(incident.team_name or '—')}</td>\n"
        "</tr>\n"
    )
