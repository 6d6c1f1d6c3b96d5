"""AWS DevOps Agent generic webhook bodies as alerts.

Reads `incidentId` (the alias), `action`, `priority`, `title`, `description`, `timestamp`,
`service`, `eventType` and `data`, as documented at
https://docs.aws.amazon.com/devopsagent/latest/userguide/configuring-capabilities-for-aws-devops-agent-invoking-devops-agent-through-webhook.html
Which of them feeds which of our fields follows the "Alert producers" table of
tests/fixtures/README.md. AWS documents only the `created` action and the HIGH priority: the
other values come from public scripts that call the webhook. The view checks the
x-amzn-event-signature HMAC before this runs.
"""

import json
from collections.abc import Mapping
from typing import Any

from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_text,
    pick_time,
    summary_line,
    truncated,
)
from incidents.adapters.base import (
    ALIAS_LENGTH,
    COMPONENT_LENGTH,
    TITLE_LENGTH,
    AlertAction,
    CanonicalAlert,
)

ACTIONS = {
    "created": AlertAction.TRIGGER,
    # Sent again on the open incident: the lifecycle service makes it a repeat.
    "updated": AlertAction.TRIGGER,
    "acknowledged": AlertAction.ACKNOWLEDGE,
    "resolved": AlertAction.RESOLVE,
    "closed": AlertAction.RESOLVE,
}
PRIORITIES = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "minimal": "info",
}
# `data` is free-form: kept for the incident when small (the delivery log has the whole body).
DETAILS_LENGTH = 10_000


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one webhook body: one alert about the incident `incidentId`.

    Raises PayloadInvalid naming the bad field, and Ignored (with the action) for an action
    that says nothing about the incident's state.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    alias = pick_text(body, "incidentId", required=True, max_length=ALIAS_LENGTH)
    action = pick_text(body, "action", required=True).lower()
    event_type = ".".join(part for part in (pick_text(body, "eventType"), action) if part)
    if action not in ACTIONS:
        raise Ignored(f"incident action not applied: {action}", event_type=event_type)
    service = pick_text(body, "service")
    data = pick(body, "data", Mapping, required=False) or {}
    return [
        CanonicalAlert(
            action=ACTIONS[action],
            alias=alias,
            title=summary_line(pick_text(body, "title"), TITLE_LENGTH),
            description=pick_text(body, "description"),
            severity=PRIORITIES.get(pick_text(body, "priority").lower(), ""),
            components=(truncated(service, COMPONENT_LENGTH),) if service else (),
            occurred_at=pick_time(body, "timestamp"),
            details=dict(data) if len(json.dumps(data)) <= DETAILS_LENGTH else {},
            event_type=event_type,
        )
    ]
