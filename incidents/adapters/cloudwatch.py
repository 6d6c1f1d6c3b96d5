"""A CloudWatch alarm's state change as an alert, however the alarm reaches us.

cloudwatch_sns (the alarm JSON of an SNS notification) and eventbridge (the "CloudWatch Alarm
State Change" event, and the `alarmData` event of a Lambda alarm action) each read the alarm's
name, state, reason, description and metrics under their own field names; this module turns
them into a CanonicalAlert one way. Which value feeds which of our fields follows the "Alert
producers" table of tests/fixtures/README.md: the alias is what Alert24's Lambda sends
(https://alert24.net/docs/incident-ingest-cloudwatch), and CloudWatch has no severity. Alarm
states, names and dimensions are as documented at
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html ;
CloudWatch documents no console URL for an alarm, so alerts carry no links.
"""

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from common.payloads import PayloadInvalid, pick, pick_text, summary_line, text_value, truncated
from incidents.adapters.base import (
    ALIAS_LENGTH,
    COMPONENT_LENGTH,
    ENVIRONMENT_LENGTH,
    TITLE_LENGTH,
    AlertAction,
    CanonicalAlert,
)

T = TypeVar("T")

ACTIONS = {
    "ALARM": AlertAction.TRIGGER,
    "OK": AlertAction.RESOLVE,
    # The alert source's setting decides whether this raises an incident.
    "INSUFFICIENT_DATA": AlertAction.INSUFFICIENT_DATA,
}
# PutMetricAlarm and PutCompositeAlarm refuse longer names.
ALARM_NAME_LENGTH = 255
ALIAS_PREFIX = "cloudwatch-"
# Dimensions naming the component: ECS and custom metrics use ServiceName, Lambda FunctionName.
COMPONENT_DIMENSIONS = ("ServiceName", "FunctionName")
# Compared lower-cased: teams spell their own dimensions as they like.
ENVIRONMENT_DIMENSIONS = ("environment", "env", "stage")
# The length of AlertReceipt.idempotency_key (incidents.adapters.base does not name it).
IDEMPOTENCY_KEY_LENGTH = 200


@dataclass(frozen=True)
class Metric:
    """One metric an alarm watches; `dimensions` are (name, value) pairs in the order sent."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


def alarm_name(payload: Mapping[str, Any], path: str) -> str:
    """The alarm's name at `path`: required, a string, at most CloudWatch's 255 characters."""
    return pick_text(payload, path, required=True, max_length=ALARM_NAME_LENGTH)


def alarm_action(payload: Mapping[str, Any], path: str) -> AlertAction:
    """What the alarm's new state at `path` (ALARM, OK or INSUFFICIENT_DATA) means for us."""
    state = pick_text(payload, path, required=True)
    if state not in ACTIONS:
        raise PayloadInvalid(path, f'"{state}" is not one of ALARM, OK, INSUFFICIENT_DATA.')
    return ACTIONS[state]


def alarm_alert(
    *,
    name: str,
    action: AlertAction,
    reason: str,
    alarm_description: str,
    metrics: Sequence[Metric],
    occurred_at: datetime | None,
    details: Mapping[str, Any],
    idempotency_key: str,
    event_type: str,
) -> CanonicalAlert:
    """The alert for one alarm state change.

    The description is the state reason, which says what crossed the threshold (a composite
    alarm's names the child alarm); the alarm's own description when there is no reason. Both
    are kept in the details, with the first metric's namespace and name. Components and
    environment come from the metrics' dimensions; none (a composite alarm, a Metrics Insights
    query) leaves the alert source's defaults.
    """
    dimensions = [dimension for metric in metrics for dimension in metric.dimensions]
    components = dict.fromkeys(
        truncated(value, COMPONENT_LENGTH)
        for dimension_name, value in dimensions
        if dimension_name in COMPONENT_DIMENSIONS and value
    )
    environment = next(
        (
            value
            for dimension_name, value in dimensions
            if dimension_name.lower() in ENVIRONMENT_DIMENSIONS and value
        ),
        "",
    )
    first_metric = next((metric for metric in metrics if metric.name), None)
    extra = {
        "alarm_description": alarm_description,
        "state_reason": reason,
        "namespace": first_metric.namespace if first_metric else "",
        "metric_name": first_metric.name if first_metric else "",
    }
    return CanonicalAlert(
        action=action,
        # A 255-character name does not fit after the prefix; such names differ early anyway.
        alias=(ALIAS_PREFIX + name.replace(" ", "-"))[:ALIAS_LENGTH],
        title=summary_line(name, TITLE_LENGTH),
        description=reason or alarm_description,
        components=tuple(components),
        environment=truncated(environment, ENVIRONMENT_LENGTH),
        occurred_at=occurred_at,
        details={**details, **{key: value for key, value in extra.items() if value}},
        idempotency_key=idempotency_key,
        event_type=event_type,
    )


def listed_dimensions(payload: Mapping[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    """Dimensions sent as a list of {"name": ..., "value": ...} objects (SNS notifications)."""

    def read(dimension: Mapping[str, Any]) -> tuple[str, str]:
        return (
            pick_text(dimension, "name", required=True),
            pick_text(dimension, "value"),
        )

    return tuple(read_items(payload, path, read))


def keyed_dimensions(payload: Mapping[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    """Dimensions sent as one object of name: value (EventBridge and Lambda alarm events)."""
    dimensions = pick(payload, path, Mapping, required=False) or {}
    # Read by hand, not with pick_text: a dimension's name may contain the path's dots.
    return tuple(
        (str(name), text_value(value, f"{path}.{name}")) for name, value in dimensions.items()
    )


def read_items(
    payload: Mapping[str, Any], path: str, read: Callable[[Mapping[str, Any]], T]
) -> list[T]:
    """`read` applied to each object of the list at `path` (an absent list has none).

    Errors name the item's whole path (`Trigger.Metrics.1.MetricStat`): common.payloads'
    paths cannot step into a list.
    """
    values = []
    for index, item in enumerate(pick(payload, path, list, required=False) or []):
        item_path = f"{path}.{index}"
        if not isinstance(item, Mapping):
            raise PayloadInvalid(item_path, "Expected an object.")
        try:
            values.append(read(item))
        except PayloadInvalid as invalid:
            (problem,) = invalid.fields[invalid.field_name]
            raise PayloadInvalid(f"{item_path}.{invalid.field_name}", problem) from None
    return values


def fitted_key(key: str) -> str:
    """`key` as an idempotency key: a digest of it when it is too long for the column.

    The digest of the same key is the same, so a redelivery still matches.
    """
    if len(key) <= IDEMPOTENCY_KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
