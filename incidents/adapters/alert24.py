"""The Alert24-compatible incidents API (`POST /api/v1/incidents`) as alerts.

Reads `title`, `description`, `severity`, `alias`, `source`, `tags`, `components`, `status`
and `started_at` or `timestamp`: the body Alert24's CloudWatch Lambda sends
(https://alert24.net/docs/incident-ingest-cloudwatch) and the create-incident fields of
https://alert24.net/docs/api-incidents ; which of them feeds which of our fields follows the
"Alert producers" table of tests/fixtures/README.md. A `status` lets a script acknowledge or
resolve by alias in the same call; Alert24's own resolve (a PUT on the incident) is another
endpoint. The bearer key is checked before this runs.
"""

import re
from collections.abc import Mapping
from typing import Any

from common.payloads import PayloadInvalid, pick, pick_text, pick_time, summary_line, truncated
from incidents.adapters.base import (
    ALIAS_LENGTH,
    COMPONENT_LENGTH,
    ENVIRONMENT_LENGTH,
    SEVERITIES,
    TITLE_LENGTH,
    AlertAction,
    CanonicalAlert,
)

# Alert24's open statuses all say the incident is happening; postmortem comes after resolving.
STATUSES = {
    **dict.fromkeys(
        ("new", "open", "triggered", "investigating", "identified", "monitoring"),
        AlertAction.TRIGGER,
    ),
    "acknowledged": AlertAction.ACKNOWLEDGE,
    **dict.fromkeys(("resolved", "closed", "postmortem"), AlertAction.RESOLVE),
}
SEVERITY_NAMES = {
    **{severity: severity for severity in SEVERITIES},
    "error": "high",
    "warning": "medium",
    "minimal": "info",
    # Alert24's lowest severity, below low.
    "maintenance": "info",
}
# env:production, environment:production, environment=production
ENVIRONMENT_TAG = re.compile(r"^(?:env|environment)\s*[:=]\s*(\S.*)$", re.IGNORECASE)


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one incident request: one alert, raised unless `status` says otherwise.

    Without an alias the title is the alias, so that a retried request finds the incident it
    raised. Raises PayloadInvalid naming the bad field.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    status = pick_text(body, "status").lower()
    if status and status not in STATUSES:
        raise PayloadInvalid("status", f"Expected one of {', '.join(STATUSES)}.")
    action = STATUSES.get(status, AlertAction.TRIGGER)
    title = pick_text(body, "title", required=action == AlertAction.TRIGGER)
    alias = pick_text(body, "alias", max_length=ALIAS_LENGTH) or truncated(title, ALIAS_LENGTH)
    if not alias:
        raise PayloadInvalid("alias", "Send the alias (or the title) of the incident.")
    tags = _texts(body, "tags")
    source = pick_text(body, "source")
    return [
        CanonicalAlert(
            action=action,
            alias=alias,
            title=summary_line(title, TITLE_LENGTH),
            description=pick_text(body, "description"),
            severity=_severity(body),
            components=_texts(body, "components", max_length=COMPONENT_LENGTH),
            tags=tags,
            environment=_environment(tags),
            occurred_at=pick_time(body, "started_at") or pick_time(body, "timestamp"),
            details={"source": source} if source else {},
            event_type=action.value,
        )
    ]


def _severity(body: Mapping[str, Any]) -> str:
    name = pick_text(body, "severity").lower()
    if name and name not in SEVERITY_NAMES:
        raise PayloadInvalid("severity", f"Expected one of {', '.join(SEVERITY_NAMES)}.")
    return SEVERITY_NAMES.get(name, "")


def _texts(body: Mapping[str, Any], name: str, *, max_length: int = 0) -> tuple[str, ...]:
    """A list of strings, each once, blanks dropped; an item that is not a string is named."""
    items = pick(body, name, list, required=False) or []
    # Each item read as a field of its own, so that an error names it (tags.2).
    fields = {name: {str(index): item for index, item in enumerate(items)}}
    texts = (
        pick_text(fields, f"{name}.{index}", max_length=max_length) for index in range(len(items))
    )
    return tuple(dict.fromkeys(text for text in texts if text))


def _environment(tags: tuple[str, ...]) -> str:
    for tag in tags:
        match = ENVIRONMENT_TAG.match(tag)
        if match:
            return truncated(match.group(1).strip(), ENVIRONMENT_LENGTH)
    return ""
