"""Flagsmith environment webhooks as changes: FLAG_UPDATED and FLAG_DELETED.

The body is `{"event_type", "data": {"changed_by", "timestamp", "new_state",
"previous_state"}}`, each state a feature state: `enabled`, `feature_state_value`,
`multivariate_feature_state_values`, `feature` (`id`, `name`, `project`), `environment` (`id`,
`name`), and `feature_segment` or `identity` for overrides (Flagsmith's environment webhook
docs and its `api/features/tasks.py`, `Webhook.generate_webhook_feature_state_data`). Which of
them feeds which of our fields follows the notes in tests/fixtures/producers/flagsmith/*.json.

- FLAG_UPDATED: one feature state changed (the environment's, or a segment override's);
  `previous_state` is absent when the state was just created. An identity override changes
  one user and is ignored.
- FLAG_DELETED (sent, though not in the docs): the feature is gone from an environment and the
  SDKs fall back to their code defaults. `new_state` is null, and `changed_by`/`timestamp`
  describe the last edit before the deletion, not the deletion: the change's time is when we
  received it and nobody is named as its author.

Flagsmith sends no delivery id and resends the same bytes on a retry: the identity is the
feature state (feature, environment, segment) and the time of the edit, so a retry is a
duplicate. The component is the flag's project name (one project per service being the common
layout). X-Flagsmith-Signature is checked before this runs.
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

UPDATED, DELETED = "FLAG_UPDATED", "FLAG_DELETED"
IDENTITY_LENGTH = 300  # ChangeEvent.identity
# How long a flag value may be before the summary stops quoting it (the description keeps it).
VALUE_IN_SUMMARY = 60


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one webhook delivery.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for other event
    types (an organisation webhook's AUDIT_LOG_CREATED) and identity overrides.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    event = pick_text(body, "event_type", required=True)[:100]
    if event not in (UPDATED, DELETED):
        raise Ignored(f"event type not used: {event}", event_type=event)
    pick(body, "data", Mapping)
    deleted = event == DELETED
    # A deletion has no new state: what went away is the previous one.
    path = "data.previous_state" if deleted else "data.new_state"
    state = pick(body, path, Mapping)
    previous = None if deleted else pick(body, "data.previous_state", Mapping, required=False)
    flag = pick_text(body, f"{path}.feature.name", required=True, max_length=NAME_LENGTH)
    environment = pick_text(
        body, f"{path}.environment.name", required=True, max_length=ENVIRONMENT_LENGTH
    )
    # `identity` is the override's numeric id, `identity_identifier` its name.
    identity_override = pick_text(body, f"{path}.identity_identifier") or pick_text(
        body, f"{path}.identity", accept_numbers=True
    )
    if identity_override:
        raise Ignored(
            f"identity override of {flag} for {identity_override[:100]}: changes one user",
            event_type=event,
        )
    segment = pick_text(body, f"{path}.feature_segment.segment.name", max_length=NAME_LENGTH)
    where = f" in {environment}" + (f" for segment {segment}" if segment else "")
    edited_at = pick_time(body, "data.timestamp")
    editor = pick_text(body, "data.changed_by", max_length=NAME_LENGTH)
    if deleted:
        summary = _deleted_summary(state, flag, where, segment)
        description = _deleted_description(
            state, editor, pick_text(body, "data.timestamp", accept_numbers=True)
        )
    else:
        summary = _updated_summary(state, previous, flag, where, segment)
        description = _updated_description(state, previous)
    feature_description = pick_text(body, f"{path}.feature.description")
    if feature_description:
        description = "\n".join(filter(None, (description, f"Flag: {feature_description}")))
    change_id = _change_id(body, path, deleted)
    return CanonicalChange(
        component=pick_text(body, f"{path}.feature.project.name", max_length=NAME_LENGTH),
        # A deletion's timestamp is the last edit's, days or months before it.
        occurred_at=None if deleted else edited_at,
        # Flagsmith sends the environment's display name ("Production"); stored lower-cased,
        # like the environment keys other producers send. The summary keeps it as shown.
        environment=environment.lower(),
        kind="feature_flag",
        summary=summary_line(summary, SUMMARY_LENGTH),
        description=description,
        triggered_by="" if deleted else editor,
        version=flag,
        metadata=_metadata(body, path, deleted),
        identity=change_id,
        event_id=change_id,
        event_type=event,
    )


def _change_id(body: Mapping[str, Any], path: str, deleted: bool) -> str:
    """The feature state (feature, environment, segment) and the edit's time; a deletion
    happens once, whatever its (last edit's) timestamp. "" without a time: nothing says two
    deliveries are the same edit. Flagsmith's ids are numbers; its names are strings."""
    feature = pick_text(body, f"{path}.feature.id", accept_numbers=True) or pick_text(
        body, f"{path}.feature.name"
    )
    environment = pick_text(body, f"{path}.environment.id", accept_numbers=True) or pick_text(
        body, f"{path}.environment.name"
    )
    state = f"{feature}:{environment}"
    segment = pick_text(
        body, f"{path}.feature_segment.segment.id", accept_numbers=True
    ) or pick_text(body, f"{path}.feature_segment.segment.name")
    if segment:
        state += f":segment:{segment}"
    if deleted:
        return f"deleted:{state}"[:IDENTITY_LENGTH]
    timestamp = pick_text(body, "data.timestamp", accept_numbers=True)
    return f"updated:{state}:{timestamp}"[:IDENTITY_LENGTH] if timestamp else ""


def _updated_summary(
    state: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    flag: str,
    where: str,
    segment: str,
) -> str:
    """ "Turned on inventory_cache_reads in Production"; `where` is " in <environment>" and
    the segment of an override."""
    enabled = _on_off(_enabled(state))
    if previous is None:
        if segment:
            return f"Added an override of {flag}{where} ({enabled})"
        return f"Created {flag}{where} ({enabled})"
    if enabled and _on_off(_enabled(previous)) not in ("", enabled):
        return f"Turned {enabled} {flag}{where}"
    if _value(state) != _value(previous):
        value = _value_text(_value(state))
        if len(value) <= VALUE_IN_SUMMARY:
            return f"Changed the value of {flag}{where} to {value}"
        return f"Changed the value of {flag}{where}"
    if _variants(state) != _variants(previous):
        return f"Changed the variant split of {flag}{where}"
    return f"Updated {flag}{where}"


def _updated_description(state: Mapping[str, Any], previous: Mapping[str, Any] | None) -> str:
    """Previous → new state, field by field (the new state alone when it was just created)."""
    fields = (
        ("Enabled", lambda s: _on_off(_enabled(s))),
        ("Value", lambda s: _value_text(_value(s))),
        ("Variants", lambda s: _variants_text(_variants(s))),
    )
    if previous is None:
        return "\n".join(f"{label}: {read(state)}" for label, read in fields if read(state))
    lines = [
        f"{label}: {read(previous)} → {read(state)}"
        for label, read in fields
        if read(previous) != read(state)
    ]
    if not lines:  # saved without a difference Flagsmith reports: say what it is now
        lines = [f"{label}: {read(state)}" for label, read in fields[:2]]
    return "\n".join(lines)


def _deleted_summary(state: Mapping[str, Any], flag: str, where: str, segment: str) -> str:
    was = _on_off(_enabled(state))
    if segment:
        return f"Removed the override of {flag}{where}" + (f" (was {was})" if was else "")
    return f"Deleted {flag}{where}" + (f" (was {was})" if was else "")


def _deleted_description(state: Mapping[str, Any], editor: str, edited_at: str) -> str:
    lines = [
        f"Enabled: {_on_off(_enabled(state))} → deleted",
        f"Value: {_value_text(_value(state))} → deleted",
    ]
    variants = _variants_text(_variants(state))
    if variants:
        lines.append(f"Variants: {variants} → deleted")
    if editor or edited_at:
        # Flagsmith names the last edit's author and time, not the deletion's.
        last = " ".join(part for part in (f"by {editor}" if editor else "", edited_at) if part)
        lines.append(f"Last changed before the deletion: {last}")
    return "\n".join(lines)


def _enabled(state: Mapping[str, Any]) -> bool | None:
    value = state.get("enabled")
    return value if isinstance(value, bool) else None


def _on_off(enabled: bool | None) -> str:
    return "" if enabled is None else "on" if enabled else "off"


def _value(state: Mapping[str, Any]) -> Any:
    return state.get("feature_state_value")


def _value_text(value: Any) -> str:
    """A flag value as it reads in a config file: text as is, `null` for none."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _variants(state: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(option value, percentage) of each multivariate option, in option order."""
    items = state.get("multivariate_feature_state_values")
    if not isinstance(items, list):
        return []
    variants = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        option = item.get("multivariate_feature_option")
        value = option.get("value") if isinstance(option, Mapping) else option
        variants.append((_value_text(value), item.get("percentage_allocation")))
    return sorted(variants, key=lambda variant: variant[0])


def _variants_text(variants: list[tuple[str, Any]]) -> str:
    return " / ".join(f"{value} {percent}%" for value, percent in variants)


def _metadata(body: Mapping[str, Any], path: str, deleted: bool) -> dict[str, Any]:
    """Which project, feature and environment (ids included), for the change page."""
    metadata = pick_scalars(
        body,
        {
            "project": f"{path}.feature.project.name",
            "project_id": f"{path}.feature.project.id",
            "feature_id": f"{path}.feature.id",
            "feature_type": f"{path}.feature.type",
            "environment_id": f"{path}.environment.id",
            "segment": f"{path}.feature_segment.segment.name",
        },
    )
    if deleted:
        metadata.update(
            pick_scalars(
                body, {"last_changed_by": "data.changed_by", "last_changed_at": "data.timestamp"}
            )
        )
    return metadata
