"""PagerDuty Change Events API v2 (`POST /v2/change/enqueue`) as changes.

Reads `payload.summary` (required), `payload.source`, `payload.timestamp`,
`payload.custom_details` and `links`, per
https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/03-Change-Events.md ;
which of them feeds which of our fields follows the notes in
tests/fixtures/producers/pagerduty_change/*.json. custom_details is free-form: we read the keys
Ansible's community.general.pagerduty_change sends (environment, revision, user), a `kind`
naming one of ours, and a failed `build_state` or `status`; everything else is kept as metadata.
The `routing_key` is checked before this runs and is never kept.
"""

from collections.abc import Mapping
from typing import Any

from changes.adapters.base import (
    ENVIRONMENT_LENGTH,
    KINDS,
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

DETAILS = "payload.custom_details"
# PagerDuty refuses a longer summary. Our column is shorter: we cut it and keep the whole text.
PAGERDUTY_SUMMARY_LENGTH = 1024
# The custom_details we map, with the length of the column each ends up in.
MAPPED_DETAILS = {
    "environment": ENVIRONMENT_LENGTH,
    "revision": NAME_LENGTH,
    "user": NAME_LENGTH,
    # The sender's id of the rollout: its later events update one change.
    "deployment_id": NAME_LENGTH,
    "external_id": NAME_LENGTH,
}
# Of those, the ids: read when numbers too (a CI's run id), the same id either way.
ID_DETAILS = {"deployment_id", "external_id"}
# CI scripts report the build's result here (PagerDuty's own example sends build_state passed).
RESULT_DETAILS = ("build_state", "status")
FAILED_RESULTS = {"failed", "failure", "error", "errored"}
# Credentials never kept, named as without_keys compares them (lower case, no separators).
KEY_NAMES = {"routingkey", "integrationkey"}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one change event. Raises PayloadInvalid naming the bad field.

    A change event has no dedup key, so the idempotency key stays empty.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    # Required as a whole, so that a body without one is told that, not that payload.summary is.
    pick(body, "payload", Mapping)
    details = pick(body, DETAILS, Mapping, required=False) or {}
    mapped = _mapped_details(body, details)
    # Documented as a string: a number here is a sender's bug, not a summary.
    summary = pick_text(
        body,
        "payload.summary",
        required=True,
        max_length=PAGERDUTY_SUMMARY_LENGTH,
    )
    shown = summary_line(summary, SUMMARY_LENGTH)
    return CanonicalChange(
        component=pick_text(body, "payload.source", max_length=NAME_LENGTH),
        occurred_at=pick_time(body, "payload.timestamp"),
        environment=mapped.get("environment", ""),
        kind=mapped.get("kind", "deployment"),
        outcome=_outcome(details),
        summary=shown,
        description=summary if shown != summary else "",
        triggered_by=mapped.get("user", ""),
        version=mapped.get("revision", ""),
        identity=mapped.get("deployment_id") or mapped.get("external_id", ""),
        links=clean_links(body.get("links")),
        metadata=without_keys(
            {name: value for name, value in details.items() if name not in mapped}, KEY_NAMES
        ),
        event_type="change_event",
    )


def _mapped_details(body: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, str]:
    """The text of each custom_details key we map.

    custom_details is free-form and PagerDuty takes any value, so a value that is not a string
    (or a kind that is not ours) is left for the metadata rather than refused. Nor is it read
    as text: `"environment": 2` names no environment "2".
    """
    mapped = {}
    for name, max_length in MAPPED_DETAILS.items():
        value = details.get(name)
        is_id = name in ID_DETAILS and is_number(value)
        if isinstance(value, str) or is_id:
            text = pick_text(body, f"{DETAILS}.{name}", max_length=max_length, accept_numbers=is_id)
            if text:
                mapped[name] = text
    kind = details.get("kind")
    if isinstance(kind, str) and kind.strip().lower() in KINDS:
        mapped["kind"] = kind.strip().lower()
    return mapped


def _outcome(details: Mapping[str, Any]) -> str:
    # Change events are sent once a change is done: succeeded, unless the result says failed.
    for name in RESULT_DETAILS:
        result = details.get(name)
        if isinstance(result, str) and result.strip().lower() in FAILED_RESULTS:
            return "failed"
    return "succeeded"
