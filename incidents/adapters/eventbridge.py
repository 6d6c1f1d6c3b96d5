"""EventBridge events from an API destination, and CloudWatch's Lambda alarm action, as alerts.

Dispatches on the envelope's `detail-type`:

- "CloudWatch Alarm State Change": `detail.alarmName`, `detail.state` (value, reason,
  timestamp), `detail.previousState.value` and `detail.configuration` (description, metrics,
  alarmRule), per
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html ;
- "ECS Task State Change": a STOPPED task's `clusterArn`, `group`, `stopCode`, `stoppedReason`,
  `stoppedAt` and its containers' `exitCode` and `reason`, per
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html ;
- no `detail-type` but `alarmData`: the event CloudWatch passes to a Lambda alarm action
  (`alarmArn`, `alarmData.alarmName`, `alarmData.state`, `alarmData.configuration`), re-posted
  unchanged by a forwarding function, per
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html .

Which value feeds which of our fields follows the "Alert producers" table of
tests/fixtures/README.md; incidents.adapters.cloudwatch maps both alarm shapes. The API
destination's key is checked before this runs; no header is read.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_scalars,
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
from incidents.adapters.cloudwatch import (
    IDEMPOTENCY_KEY_LENGTH,
    Metric,
    alarm_action,
    alarm_alert,
    alarm_name,
    fitted_key,
    keyed_dimensions,
    read_items,
)

ALARM_EVENT = "CloudWatch Alarm State Change"
TASK_EVENT = "ECS Task State Change"
# The Lambda alarm-action event has no detail-type: it is named by the object it carries.
ALARM_ACTION_EVENT = "alarmData"
# ECS stops a task with this code to scale in or to replace it in a deployment.
SCHEDULER_STOP = "ServiceSchedulerInitiated"
# A task's `group` says what started it: a service, or run-task (the task definition family).
SERVICE_GROUP = "service"
FAMILY_GROUP = "family"


@dataclass(frozen=True)
class Container:
    """One container of a stopped task; `exit_code` is None when the container never ran."""

    name: str
    exit_code: int | float | None
    reason: str


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one EventBridge event (or one re-posted Lambda alarm-action event): one alert.

    The event `id` is the idempotency key (EventBridge delivers at least once and a retry keeps
    it); the Lambda event has none, so its alarm ARN and state timestamp stand in. Raises
    PayloadInvalid naming the bad field, and Ignored for event types we do not use, tasks that
    did not stop, and tasks that stopped without a failure.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    detail_type = pick_text(body, "detail-type")
    if not detail_type and ALARM_ACTION_EVENT in body:
        return [_alarm_action(body)]
    if not detail_type:
        raise PayloadInvalid("detail-type", "This field is required.")
    read = READERS.get(detail_type)
    if read is None:
        raise Ignored(f"event type not used: {detail_type}", event_type=detail_type)
    # Required as a whole, so that a body without one is told that, not that a field in it is.
    pick(body, "detail", Mapping)
    return [read(body)]


def _alarm_state_change(body: Mapping[str, Any]) -> CanonicalAlert:
    resources = pick(body, "resources", list, required=False) or []
    # The alarm is the event's one resource.
    alarm_arn = resources[0] if resources and isinstance(resources[0], str) else ""
    details = pick_scalars(body, {"region": "region", "account": "account"})
    return _alarm(
        body,
        "detail",
        details={**details, "alarm_arn": alarm_arn} if alarm_arn else details,
        idempotency_key=pick_text(body, "id", max_length=IDEMPOTENCY_KEY_LENGTH),
        event_type=ALARM_EVENT,
    )


def _alarm_action(body: Mapping[str, Any]) -> CanonicalAlert:
    pick(body, ALARM_ACTION_EVENT, Mapping)
    alarm_arn = pick_text(body, "alarmArn")
    changed_at = pick_text(body, f"{ALARM_ACTION_EVENT}.state.timestamp")
    # A retried invocation repeats both; the next state change of the alarm has a new time.
    key = f"{alarm_arn}:{changed_at}" if alarm_arn and changed_at else ""
    return _alarm(
        body,
        ALARM_ACTION_EVENT,
        details=pick_scalars(
            body, {"region": "region", "account": "accountId", "alarm_arn": "alarmArn"}
        ),
        idempotency_key=fitted_key(key),
        event_type=ALARM_ACTION_EVENT,
    )


def _alarm(
    body: Mapping[str, Any],
    root: str,
    *,
    details: Mapping[str, Any],
    idempotency_key: str,
    event_type: str,
) -> CanonicalAlert:
    """The alarm under `root`: both events describe it with the same fields."""
    return alarm_alert(
        name=alarm_name(body, f"{root}.alarmName"),
        action=alarm_action(body, f"{root}.state.value"),
        reason=pick_text(body, f"{root}.state.reason"),
        alarm_description=pick_text(body, f"{root}.configuration.description"),
        metrics=[
            metric
            for metric in read_items(body, f"{root}.configuration.metrics", _queried_metric)
            if metric is not None
        ],
        # When the alarm changed state; the event's own time is only to the second.
        occurred_at=pick_time(body, f"{root}.state.timestamp") or pick_time(body, "time"),
        details={
            **details,
            **pick_scalars(
                body,
                {
                    "old_state": f"{root}.previousState.value",
                    "alarm_rule": f"{root}.configuration.alarmRule",
                },
            ),
        },
        idempotency_key=idempotency_key,
        event_type=event_type,
    )


def _queried_metric(query: Mapping[str, Any]) -> Metric | None:
    # An expression (`m1 + m2`, `ANOMALY_DETECTION_BAND(m1, 2)`, a Metrics Insights query) has
    # no metric of its own.
    if pick(query, "metricStat", Mapping, required=False) is None:
        return None
    return Metric(
        namespace=pick_text(query, "metricStat.metric.namespace"),
        name=pick_text(query, "metricStat.metric.name"),
        dimensions=keyed_dimensions(query, "metricStat.metric.dimensions"),
    )


def _stopped_task(body: Mapping[str, Any]) -> CanonicalAlert:
    status = pick_text(body, "detail.lastStatus", required=True)
    if status != "STOPPED":
        raise Ignored(f"ECS task status not used: {status}", event_type=TASK_EVENT)
    group = pick_text(body, "detail.group", required=True)
    # arn:aws:ecs:<region>:<account>:cluster/<name>
    cluster = pick_text(body, "detail.clusterArn", required=True).rsplit("/", 1)[-1]
    containers = read_items(body, "detail.containers", _container)
    stop_code = pick_text(body, "detail.stopCode")
    exited = [container for container in containers if container.exit_code]
    # The documented stop codes (TaskFailedToStart, EssentialContainerExited, UserInitiated,
    # SpotInterruption, TerminationNotice) all stop a task that should have run; a task the
    # scheduler stopped with every container exiting 0 was scaled in or replaced.
    if not exited and stop_code in (SCHEDULER_STOP, ""):
        stopped_by = f"stopCode {stop_code}" if stop_code else "no stopCode"
        reason = "normal scale-in" if stop_code else "task stopped without a failure"
        raise Ignored(f"{reason} ({stopped_by}, all containers exited 0)", event_type=TASK_EVENT)
    prefix, _, name = group.partition(":")
    if prefix == SERVICE_GROUP and name:
        task_name = alias_name = name
    else:
        # run-task names the family (or a group of the caller's): kept apart from a service of
        # the same name, which is usually the same family.
        task_name = name if prefix == FAMILY_GROUP and name else group
        alias_name = group.replace(":", "-")
    stopped_reason = pick_text(body, "detail.stoppedReason")
    failure = _failure_reason(exited, containers, stopped_reason, stop_code)
    return CanonicalAlert(
        action=AlertAction.TRIGGER,
        alias=f"ecs-{cluster}-{alias_name}"[:ALIAS_LENGTH],
        title=summary_line(f"{task_name}: {failure}" if failure else task_name, TITLE_LENGTH),
        description="\n".join(filter(None, (stopped_reason, *map(_described, containers)))),
        components=(truncated(task_name, COMPONENT_LENGTH),),
        occurred_at=pick_time(body, "detail.stoppedAt") or pick_time(body, "time"),
        details=pick_scalars(
            body,
            {
                "region": "region",
                "account": "account",
                "cluster_arn": "detail.clusterArn",
                "task_arn": "detail.taskArn",
                "task_definition_arn": "detail.taskDefinitionArn",
                "stop_code": "detail.stopCode",
                "started_by": "detail.startedBy",
            },
        ),
        idempotency_key=pick_text(body, "id", max_length=IDEMPOTENCY_KEY_LENGTH),
        event_type=TASK_EVENT,
    )


def _container(container: Mapping[str, Any]) -> Container:
    return Container(
        name=pick_text(container, "name"),
        exit_code=pick(container, "exitCode", (int, float), required=False),
        reason=pick_text(container, "reason"),
    )


def _failure_reason(
    exited: list[Container], containers: list[Container], stopped_reason: str, stop_code: str
) -> str:
    """What a container that exited non-zero (else one that never ran) says, else the task."""
    never_ran = [container for container in containers if container.exit_code is None]
    reasons = (container.reason for container in (*exited, *never_ran) if container.reason)
    return next(reasons, "") or stopped_reason or stop_code


def _described(container: Container) -> str:
    """One line for a container that failed; "" for one that exited 0 or says nothing."""
    if container.exit_code:
        exit_line = f"{container.name} exited {container.exit_code:g}"
        return f"{exit_line}: {container.reason}" if container.reason else exit_line
    if container.exit_code is None and container.reason:
        return f"{container.name}: {container.reason}"
    return ""


READERS: dict[str, Callable[[Mapping[str, Any]], CanonicalAlert]] = {
    ALARM_EVENT: _alarm_state_change,
    TASK_EVENT: _stopped_task,
}
