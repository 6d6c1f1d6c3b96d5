"""Unleash webhook integration (addon) events as changes.

Without a body template Unleash posts the stored event as it is (`JSON.stringify(event)`, its
src/lib/addons/webhook.ts): `id`, `type`, `createdBy`, `createdAt`, `createdByUserId`, `data`,
`preData`, `tags` (`[{value, type}]`), `featureName`, `project`, `environment`
(https://docs.getunleash.io/integrate/webhook). Which of them feeds which of our fields follows
the notes in tests/fixtures/producers/unleash/*.json.

Recorded: a flag enabled or disabled in an environment, and a strategy added, changed or
removed there (`data` the strategy after, `preData` before). Everything else is ignored:
`feature-created` (a new flag is disabled everywhere, nothing behaves differently yet), and
events that change no environment (metadata, tags, staleness) or are not about flags.

Each event is a change of its own: its `id` is the identity, the event id and the idempotency
key, so Unleash's one retry is a duplicate; `createdAt` is the change's time (no order is
promised). The component is the value of the flag's tag of type `service`, else of its first
`simple` tag. Unleash signs nothing: its Authorization parameter carries our key.
"""

import json
from collections.abc import Mapping
from typing import Any

from changes.adapters.base import ENVIRONMENT_LENGTH, NAME_LENGTH, SUMMARY_LENGTH, CanonicalChange
from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_scalars,
    pick_text,
    pick_time,
    summary_line,
)

ENABLED, DISABLED = "feature-environment-enabled", "feature-environment-disabled"
STRATEGY_ADDED, STRATEGY_UPDATED, STRATEGY_REMOVED = (
    "feature-strategy-add",
    "feature-strategy-update",  # sic: no "d"
    "feature-strategy-remove",
)
RECORDED = (ENABLED, DISABLED, STRATEGY_ADDED, STRATEGY_UPDATED, STRATEGY_REMOVED)
# Why the events closest to a change are not one.
IGNORED_REASONS = {
    "feature-created": "no environment is affected until the flag is enabled",
}
SERVICE_TAG_TYPE, SIMPLE_TAG_TYPE = "service", "simple"
# Unleash's gradual rollout: its `rollout` parameter is the percentage of users.
GRADUAL_ROLLOUT = "flexibleRollout"
# Strategy fields that say nothing about who gets the flag.
BOOKKEEPING = {"id", "sortOrder", "featureName", "projectId", "environment", "createdAt"}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one Unleash event.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for event types
    that change nothing in an environment.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    event = pick_text(body, "type", required=True)[:100]
    if event not in RECORDED:
        reason = IGNORED_REASONS.get(event, "event type not recorded")
        raise Ignored(f"{event}: {reason}", event_type=event)
    # Unleash's event id is a number; the fields we read besides are strings.
    event_id = pick_text(body, "id", required=True, max_length=NAME_LENGTH, accept_numbers=True)
    flag = pick_text(body, "featureName", required=True, max_length=NAME_LENGTH)
    environment = pick_text(body, "environment", max_length=ENVIRONMENT_LENGTH)
    where = f" in {environment}" if environment else ""
    after = pick(body, "data", Mapping, required=False)
    before = pick(body, "preData", Mapping, required=False)
    if event == ENABLED:
        summary, description = f"Turned on {flag}{where}", "Enabled: off → on"
    elif event == DISABLED:
        summary, description = f"Turned off {flag}{where}", "Enabled: on → off"
    else:
        summary, description = _strategy_change(event, flag, where, before, after)
    return CanonicalChange(
        component=_component(body),
        occurred_at=pick_time(body, "createdAt"),
        environment=environment,
        kind="feature_flag",
        summary=summary_line(summary, SUMMARY_LENGTH),
        description=description,
        triggered_by=pick_text(body, "createdBy", max_length=NAME_LENGTH),
        version=flag,
        metadata=_metadata(body, before or after),
        idempotency_key=event_id,
        identity=f"event:{event_id}",
        event_id=f"event:{event_id}",
        event_type=event,
    )


def _strategy_change(
    event: str,
    flag: str,
    where: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> tuple[str, str]:
    """Summary and description of a strategy added, changed or removed."""
    if event == STRATEGY_ADDED:
        if after is None:
            raise PayloadInvalid("data", "This field is required: the strategy added.")
        return (
            f"Added the {_strategy_label(after)} strategy to {flag}{where}",
            "Added: " + _strategy_text(after),
        )
    if event == STRATEGY_REMOVED:
        if before is None:
            raise PayloadInvalid("preData", "This field is required: the strategy removed.")
        return (
            f"Removed the {_strategy_label(before)} strategy from {flag}{where}",
            "Removed: " + _strategy_text(before),
        )
    if after is None:
        raise PayloadInvalid("data", "This field is required: the strategy after the change.")
    summary = f"Changed targeting of {flag}{where}"
    if before is None:  # an older Unleash or a trimmed event: only the new state is known
        return f"{summary} ({_strategy_label(after)})", "Now: " + _strategy_text(after)
    before_label, after_label = _strategy_label(before), _strategy_label(after)
    if before_label == after_label:
        summary += f" ({after_label})"
    else:
        # "flexibleRollout 25% → 50%": the strategy's name once when it stayed.
        name = f"{_strategy_name(after)} "
        if before_label.startswith(name) and after_label.startswith(name):
            after_label = after_label.removeprefix(name)
        summary += f": {before_label} → {after_label}"
    # preData comes from a jsonb column, data from a json one: the same keys in another
    # order. Compared as objects, path by path.
    lines = [
        f"{path}: {_json(old)} → {_json(new)}" for path, old, new in _differences(before, after)
    ]
    if not lines:
        return summary, "Saved without a difference: " + _strategy_text(after)
    return summary, "\n".join([f"Strategy {_strategy_name(after)}:", *lines])


def _strategy_name(strategy: Mapping[str, Any]) -> str:
    """The strategy's title when it has one, else its name (`flexibleRollout`, `default`)."""
    name = strategy.get("title") or strategy.get("name")
    return str(name)[:100] if isinstance(name, str | int | float) and name != "" else "unnamed"


def _strategy_label(strategy: Mapping[str, Any]) -> str:
    """ "flexibleRollout 50%": the strategy's name, its rollout and whether it is disabled."""
    label = _strategy_name(strategy)
    parameters = strategy.get("parameters")
    if (
        strategy.get("name") == GRADUAL_ROLLOUT
        and isinstance(parameters, Mapping)
        and isinstance(parameters.get("rollout"), str | int | float)
    ):
        label += f" {parameters['rollout']}%"
    if strategy.get("disabled") is True:
        label += " (disabled)"
    return label


def _strategy_text(strategy: Mapping[str, Any]) -> str:
    """The strategy's name and what decides who gets the flag, as compact JSON."""
    shown = {key: value for key, value in strategy.items() if key not in BOOKKEEPING}
    return _json(shown)


def _differences(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted path, before, after) of each value that differs; objects compared by key,
    anything else (lists included) as a whole."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        differences = []
        for key in dict.fromkeys([*after, *before]):
            if not path and key in BOOKKEEPING:
                continue
            differences += _differences(
                before.get(key), after.get(key), f"{path}.{key}" if path else str(key)
            )
        return differences
    return [] if before == after else [(path, before, after)]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _component(body: Mapping[str, Any]) -> str:
    """The flag's `service` tag, else its first `simple` tag ("" when it has neither)."""
    tags = pick(body, "tags", list, required=False) or []
    by_type: dict[str, str] = {}
    for index, tag in enumerate(tags):
        if not isinstance(tag, Mapping):
            raise PayloadInvalid(f"tags.{index}", "Expected an object with value and type.")
        value, kind = tag.get("value"), tag.get("type")
        if isinstance(value, str) and value.strip() and isinstance(kind, str):
            by_type.setdefault(kind.strip().lower(), value.strip())
    component = by_type.get(SERVICE_TAG_TYPE) or by_type.get(SIMPLE_TAG_TYPE, "")
    if len(component) > NAME_LENGTH:
        raise PayloadInvalid("tags", f"Tag values have at most {NAME_LENGTH} characters.")
    return component


def _metadata(body: Mapping[str, Any], strategy: Mapping[str, Any] | None) -> dict[str, Any]:
    """Which event, project and strategy, for the change page; never the whole event."""
    metadata = pick_scalars(
        body, {"event_id": "id", "project": "project", "created_by_user_id": "createdByUserId"}
    )
    if strategy is not None:
        metadata.update(pick_scalars(strategy, {"strategy": "name", "strategy_id": "id"}))
    return metadata
