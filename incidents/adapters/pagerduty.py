"""PagerDuty Events API v2 alert events (`POST /v2/enqueue`) as alerts.

Reads `event_action`, `dedup_key`, `payload` (summary, source, severity, timestamp, component,
group, class, custom_details), `links`, `client` and `client_url`, per
https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/02-Trigger-Events.md ;
which of them feeds which of our fields follows the "Alert producers" table of
tests/fixtures/README.md. We refuse what PagerDuty refuses (a trigger without summary, source
or one of its four severities; an acknowledge or resolve without dedup_key) and, like
PagerDuty, read nothing but the dedup_key from an acknowledge or resolve. `images` are not
kept. The `routing_key` is checked before this runs and is never kept.
"""

import json
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from common.payloads import (
    PayloadInvalid,
    clean_links,
    pick,
    pick_links,
    pick_text,
    pick_time,
    summary_line,
    truncated,
    without_keys,
)
from incidents.adapters.base import (
    ALIAS_LENGTH,
    COMPONENT_LENGTH,
    ENVIRONMENT_LENGTH,
    TITLE_LENGTH,
    AlertAction,
    CanonicalAlert,
)

ACTIONS = {
    "trigger": AlertAction.TRIGGER,
    "acknowledge": AlertAction.ACKNOWLEDGE,
    "resolve": AlertAction.RESOLVE,
}
SEVERITIES = {"critical": "critical", "error": "high", "warning": "medium", "info": "info"}
# PagerDuty refuses a longer summary. Our title is shorter: we cut it and keep the whole text.
PAGERDUTY_SUMMARY_LENGTH = 1024
ENVIRONMENT_DETAILS = ("environment", "env")
# Credentials never kept, named as without_keys compares them (lower case, no separators).
KEY_NAMES = {"routingkey", "integrationkey"}
# custom_details is free-form: kept when small (the delivery log has the whole body).
DETAILS_LENGTH = 10_000


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one alert event. Raises PayloadInvalid naming the bad field.

    A trigger without dedup_key gets a new random alias: as at PagerDuty, each such trigger
    is a new alert. The dedup_key is the alias, not an idempotency key: a trigger sent again
    is a repeat.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    action = pick_text(body, "event_action", required=True).lower()
    if action not in ACTIONS:
        raise PayloadInvalid("event_action", "Expected trigger, acknowledge or resolve.")
    is_trigger = ACTIONS[action] == AlertAction.TRIGGER
    dedup_key = pick_text(body, "dedup_key", required=not is_trigger, max_length=ALIAS_LENGTH)
    if not is_trigger:
        return [CanonicalAlert(action=ACTIONS[action], alias=dedup_key, event_type=action)]
    return [_trigger(body, alias=dedup_key or uuid4().hex)]


def _trigger(body: Mapping[str, Any], *, alias: str) -> CanonicalAlert:
    # Required as a whole, so that a body without one is told that, not that its summary is.
    pick(body, "payload", Mapping)
    # Documented as strings: a number here is a sender's bug, not a summary or a severity.
    summary = pick_text(
        body,
        "payload.summary",
        required=True,
        max_length=PAGERDUTY_SUMMARY_LENGTH,
    )
    source = pick_text(body, "payload.source", required=True)
    severity = pick_text(body, "payload.severity", required=True).lower()
    if severity not in SEVERITIES:
        raise PayloadInvalid("payload.severity", "Expected critical, error, warning or info.")
    component = pick_text(body, "payload.component")
    # Documented as an object; a plain string is kept too rather than losing the alert.
    custom_details = pick(body, "payload.custom_details", (Mapping, str), required=False)
    title = summary_line(summary, TITLE_LENGTH)
    details = {
        "source": source,
        "group": pick_text(body, "payload.group"),
        "class": pick_text(body, "payload.class"),
    }
    if custom_details and len(json.dumps(custom_details)) <= DETAILS_LENGTH:
        details["custom_details"] = without_keys(custom_details, KEY_NAMES)
    client = pick_text(body, "client")
    return CanonicalAlert(
        action=AlertAction.TRIGGER,
        alias=alias,
        title=title,
        description=summary if title != summary else "",
        severity=SEVERITIES[severity],
        components=(truncated(component, COMPONENT_LENGTH),) if component else (),
        environment=_environment(custom_details),
        links=clean_links(body.get("links")) + pick_links(body, {"client_url": client or "Client"}),
        occurred_at=pick_time(body, "payload.timestamp"),
        details={name: value for name, value in details.items() if value},
        event_type="trigger",
    )


def _environment(custom_details: Mapping[str, Any] | str | None) -> str:
    # Free-form: only a string names the environment; anything else (a number too) stays a
    # detail.
    if not isinstance(custom_details, Mapping):
        return ""
    for name in ENVIRONMENT_DETAILS:
        value = custom_details.get(name)
        if isinstance(value, str) and value.strip():
            return truncated(value.strip(), ENVIRONMENT_LENGTH)
    return ""
