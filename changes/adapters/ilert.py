"""ilert deployment events (`POST /api/deployment-events`) as changes.

Reads `summary` (required), `timestamp` (epoch seconds, epoch milliseconds or ISO 8601),
`userEmail`, `customDetails` and `links`, per
https://docs.ilert.com/integrations/deployment-integrations/api and
https://docs.ilert.com/developer-docs/rest-api/api-reference/deployment-events ; which of them
feeds which of our fields follows the notes in tests/fixtures/producers/ilert/*.json.
ilert names no component, environment, version or commit: we read them from customDetails when
a sender puts them there (the keys are in DETAIL_KEYS) and keep the rest as metadata.
The `integrationKey` is checked before this runs and is never kept.
"""

from collections.abc import Mapping
from typing import Any

from changes.adapters.base import (
    CanonicalChange,
    PayloadInvalid,
    clean_links,
    pick,
    pick_text,
    pick_time,
)

DETAILS = "customDetails"
SUMMARY_LENGTH = 500
NAME_LENGTH = 200
# Our field, the customDetails keys that fill it (the first with text wins), and the length
# of the ChangeEvent column it ends up in.
DETAIL_KEYS = {
    "component": (("component", "service"), NAME_LENGTH),
    "environment": (("environment",), 100),
    "version": (("version",), NAME_LENGTH),
    "commit": (("commit", "commit_sha", "sha"), 100),
}
# Credentials under any spelling, lower-cased without separators.
KEY_NAMES = {"routingkey", "integrationkey"}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one deployment event. Raises PayloadInvalid naming the bad field.

    ilert's events are finished deployments with no id of their own: kind deployment,
    outcome succeeded, and no idempotency key.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    summary = _summary(body)
    shown = _first_line(summary)
    details = pick(body, DETAILS, Mapping, required=False) or {}
    fields, used_keys = _mapped_details(body, details)
    return CanonicalChange(
        component=fields.get("component", ""),
        occurred_at=pick_time(body, "timestamp"),
        environment=fields.get("environment", ""),
        summary=shown,
        description=summary if shown != summary else "",
        triggered_by=pick_text(body, "userEmail", max_length=NAME_LENGTH),
        version=fields.get("version", ""),
        commit=fields.get("commit", ""),
        links=clean_links(body.get("links")),
        metadata=_without_keys(
            {name: value for name, value in details.items() if name not in used_keys}
        ),
        event_type="deployment_event",
    )


def _summary(body: Mapping[str, Any]) -> str:
    # Documented as a string: a number here is a sender's bug, not a summary.
    summary = pick(body, "summary", str).strip()
    if not summary:
        raise PayloadInvalid("summary", "This field may not be blank.")
    return summary


def _first_line(summary: str) -> str:
    # ilert sets no limit; the whole text goes to the description when this cuts it.
    line = summary.splitlines()[0]
    return line if len(line) <= SUMMARY_LENGTH else line[: SUMMARY_LENGTH - 1] + "…"


def _mapped_details(
    body: Mapping[str, Any], details: Mapping[str, Any]
) -> tuple[dict[str, str], set[str]]:
    """Our fields read from customDetails, and the keys they were read from.

    customDetails is free-form and ilert takes any value, so a value that is not text is left
    for the metadata rather than refused.
    """
    fields: dict[str, str] = {}
    used_keys: set[str] = set()
    for field_name, (keys, max_length) in DETAIL_KEYS.items():
        for key in keys:
            if not _is_text(details.get(key)):
                continue
            text = pick_text(body, f"{DETAILS}.{key}", max_length=max_length)
            if text:
                fields[field_name] = text
                used_keys.add(key)
                break
    return fields, used_keys


def _is_text(value: Any) -> bool:
    # JSON true/false are ints to Python; they are not text.
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _without_keys(value: Any) -> Any:
    """`value` with every integration or routing key removed, at any depth."""
    if isinstance(value, Mapping):
        return {
            name: _without_keys(item)
            for name, item in value.items()
            if str(name).lower().replace("_", "").replace("-", "") not in KEY_NAMES
        }
    if isinstance(value, list):
        return [_without_keys(item) for item in value]
    return value
