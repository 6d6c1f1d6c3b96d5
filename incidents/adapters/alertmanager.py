"""Prometheus Alertmanager webhooks (version 4) as alerts, one per entry of `alerts`.

Reads each alert's `status`, `labels` (alertname, severity, service/job/component, env or
environment, team), `annotations` (summary, description, runbook_url), `startsAt`, `endsAt`,
`generatorURL` and `fingerprint`, and the group's `status`, per
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config ; which of them feeds
which of our fields follows the "Alert producers" table of tests/fixtures/README.md. Grafana's
webhook contact point sends the same alert list (incidents.adapters.grafana reads it here).
The bearer key is checked before this runs.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_links,
    pick_text,
    pick_time,
    summary_line,
    text_value,
    truncated,
)
from incidents.adapters.base import (
    ALIAS_LENGTH,
    COMPONENT_LENGTH,
    ENVIRONMENT_LENGTH,
    TITLE_LENGTH,
    AlertAction,
    CanonicalAlert,
)

ACTIONS = {"firing": AlertAction.TRIGGER, "resolved": AlertAction.RESOLVE}
# The usual Prometheus severity labels; any other value leaves the alert source's default.
SEVERITY_LABELS = {
    "critical": "critical",
    "error": "high",
    "high": "high",
    "warning": "medium",
    "medium": "medium",
    "low": "low",
    "info": "info",
}
# The first of these labels present names the component.
COMPONENT_LABELS = ("service", "job", "component")
ENVIRONMENT_LABELS = ("env", "environment")
LINKS = {"generatorURL": "Source", "annotations.runbook_url": "Runbook"}
# Go's zero time.Time: Alertmanager sends it as the endsAt of a firing alert, meaning "unset".
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
# prometheus/common model.LabelSet.Fingerprint: 64-bit FNV-1a, a 0xff byte after each name
# and each value.
FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211
LABEL_SEPARATOR = 0xFF


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one Alertmanager notification: one alert per entry of `alerts`, in body order.

    A still-firing alert comes again whenever its group is re-sent (that is a repeat, so no
    idempotency key). Raises PayloadInvalid naming the bad field (`alerts.<i>.<field>`), and
    Ignored for a notification without alerts.
    """
    return read_alerts(body, links=LINKS)


def read_alerts(body: Any, *, links: Mapping[str, str]) -> list[CanonicalAlert]:
    """The alerts of an Alertmanager-shaped body, with the links at each alert's `links` paths."""
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    group_status = pick_text(body, "status")
    alerts = pick(body, "alerts", list)
    if not alerts:
        raise Ignored("the notification carries no alerts", event_type=group_status)
    return [
        _read_numbered(alert, index, links=links, group_status=group_status)
        for index, alert in enumerate(alerts)
    ]


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """The fingerprint Alertmanager and Grafana send for this label set (16 hex digits)."""
    fingerprint = FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode("utf-8"), LABEL_SEPARATOR):
                fingerprint = ((fingerprint ^ byte) * FNV_PRIME) % 2**64
    return f"{fingerprint:016x}"


def _read_numbered(
    alert: Any, index: int, *, links: Mapping[str, str], group_status: str
) -> CanonicalAlert:
    if not isinstance(alert, Mapping):
        raise PayloadInvalid(f"alerts.{index}", "Expected an object.")
    # The helpers name paths inside the alert; the sender needs to know which alert it was.
    try:
        return _read_alert(alert, links=links, group_status=group_status)
    except PayloadInvalid as invalid:
        (problem,) = invalid.fields[invalid.field_name]
        raise PayloadInvalid(f"alerts.{index}.{invalid.field_name}", problem) from None


def _read_alert(
    alert: Mapping[str, Any], *, links: Mapping[str, str], group_status: str
) -> CanonicalAlert:
    status = pick_text(alert, "status", required=True).lower()
    if status not in ACTIONS:
        raise PayloadInvalid("status", "Expected firing or resolved.")
    labels = _labels(alert)
    # An absent fingerprint (Alertmanager before 0.19) is computed as Alertmanager would.
    alias = pick_text(alert, "fingerprint", max_length=ALIAS_LENGTH) or label_fingerprint(labels)
    title = pick_text(alert, "annotations.summary") or labels.get("alertname", "")
    component = next((labels[name] for name in COMPONENT_LABELS if labels.get(name)), "")
    environment = next((labels[name] for name in ENVIRONMENT_LABELS if labels.get(name)), "")
    return CanonicalAlert(
        action=ACTIONS[status],
        alias=alias,
        title=summary_line(title, TITLE_LENGTH),
        description=pick_text(alert, "annotations.description"),
        severity=SEVERITY_LABELS.get(labels.get("severity", "").lower(), ""),
        components=(truncated(component, COMPONENT_LENGTH),) if component else (),
        environment=truncated(environment, ENVIRONMENT_LENGTH),
        team=labels.get("team", ""),
        links=pick_links(alert, links),
        occurred_at=_occurred_at(alert, status),
        details=labels,
        event_type=group_status,
    )


def _labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """The label set; a label whose value is not a string (Prometheus labels always are) is
    named."""
    return {
        str(name): text_value(value, f"labels.{name}")
        for name, value in pick(alert, "labels", Mapping).items()
    }


def _occurred_at(alert: Mapping[str, Any], status: str) -> datetime | None:
    # A resolved alert happened when it ended; Alertmanager keeps its first startsAt.
    occurred_at = pick_time(alert, "startsAt" if status == "firing" else "endsAt")
    return None if occurred_at == GO_ZERO_TIME else occurred_at
