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
    COMMIT_LENGTH,
    ENVIRONMENT_LENGTH,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
)
from common.payloads import (
    PayloadInvalid,
    clean_links,
    is_number,
    pick,
    pick_text,
    pick_time,
    summary_line,
    without_keys,
)

DETAILS = "customDetails"
# Our field, the customDetails keys that fill it (the first with text wins), and the length
# of the ChangeEvent column it ends up in.
DETAIL_KEYS = {
    "component": (("component", "service"), NAME_LENGTH),
    "environment": (("environment",), ENVIRONMENT_LENGTH),
    "version": (("version",), NAME_LENGTH),
    "commit": (("commit", "commit_sha", "sha"), COMMIT_LENGTH),
    # The sender's id of the rollout: its later events update one change.
    "identity": (("deployment_id", "external_id"), NAME_LENGTH),
}
# Of our fields, the one read from a number too (a CI's run id): the same id either way.
ID_FIELD = "identity"
# Credentials never kept, named as without_keys compares them (lower case, no separators).
KEY_NAMES = {"routingkey", "integrationkey"}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one deployment event. Raises PayloadInvalid naming the bad field.

    ilert's events are finished deployments with no id of their own: kind deployment,
    outcome succeeded, and no idempotency key.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    # Documented as a string: a number here is a sender's bug, not a summary.
    summary = pick_text(body, "summary", required=True)
    # ilert sets no limit; the whole text goes to the description when this cuts it.
    shown = summary_line(summary, SUMMARY_LENGTH)
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
        identity=fields.get("identity", ""),
        links=clean_links(body.get("links")),
        metadata=without_keys(
            {name: value for name, value in details.items() if name not in used_keys}, KEY_NAMES
        ),
        event_type="deployment_event",
    )


def _mapped_details(
    body: Mapping[str, Any], details: Mapping[str, Any]
) -> tuple[dict[str, str], set[str]]:
    """Our fields read from customDetails, and the keys they were read from.

    customDetails is free-form and ilert takes any value, so a value that is not a string is
    left for the metadata rather than refused. Nor is it read as text: `"component": 4711`
    names no component "4711".
    """
    fields: dict[str, str] = {}
    used_keys: set[str] = set()
    for field_name, (keys, max_length) in DETAIL_KEYS.items():
        for key in keys:
            value = details.get(key)
            is_id = field_name == ID_FIELD and is_number(value)
            if not isinstance(value, str) and not is_id:
                continue
            text = pick_text(body, f"{DETAILS}.{key}", max_length=max_length, accept_numbers=is_id)
            if text:
                fields[field_name] = text
                used_keys.add(key)
                break
    return fields, used_keys
