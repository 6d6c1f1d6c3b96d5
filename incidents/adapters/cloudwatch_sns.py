"""CloudWatch alarm notifications delivered by an SNS HTTPS subscription, as alerts.

Reads the SNS envelope (`Type`, `MessageId`, `Message`, `Timestamp`, `TopicArn`) per
https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html , and the alarm JSON
that `Message` carries as a string: `AlarmName`, `NewStateValue`, `NewStateReason`,
`AlarmDescription`, `StateChangeTime`, `OldStateValue`, and the metrics of `Trigger` (a metric
alarm's `MetricName` and `Dimensions`, or a metric-math or anomaly detection alarm's `Metrics`;
a composite alarm has `AlarmRule` and no `Trigger`), as CloudWatch sends them (field names from
real notifications, e.g. aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-*.json).
incidents.adapters.cloudwatch maps the alarm. The view verifies the signature and answers
SubscriptionConfirmation and UnsubscribeConfirmation before this runs; no header is read.
"""

import json
from collections.abc import Mapping
from typing import Any

from common.payloads import Ignored, PayloadInvalid, pick, pick_scalars, pick_text, pick_time
from incidents.adapters.base import CanonicalAlert
from incidents.adapters.cloudwatch import (
    IDEMPOTENCY_KEY_LENGTH,
    Metric,
    alarm_action,
    alarm_alert,
    alarm_name,
    listed_dimensions,
    read_items,
)

NOTIFICATION = "Notification"
MESSAGE = "Message"
TRIGGER = f"{MESSAGE}.Trigger"
# Only an alarm has these; anything else published to the topic is not ours to read.
ALARM_FIELDS = ("AlarmName", "NewStateValue")


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one SNS notification carrying a CloudWatch alarm: one alert.

    Raises PayloadInvalid naming the bad field (`Message.<field>` inside the alarm), and
    Ignored for a message that is not an alarm: plain text or other JSON published to the
    same topic is a valid notification, just not one we act on.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    message_type = pick_text(body, "Type", required=True)
    if message_type != NOTIFICATION:
        raise PayloadInvalid("Type", f'"{message_type}" is not a Notification.')
    # SNS reuses the MessageId when it retries a delivery.
    message_id = pick_text(body, "MessageId", required=True, max_length=IDEMPOTENCY_KEY_LENGTH)
    alarm = _alarm(pick(body, MESSAGE, str))
    # The envelope with its Message parsed, so that errors name the path inside the alarm.
    notification = {**body, MESSAGE: alarm}
    return [
        alarm_alert(
            name=alarm_name(notification, f"{MESSAGE}.AlarmName"),
            action=alarm_action(notification, f"{MESSAGE}.NewStateValue"),
            reason=pick_text(notification, f"{MESSAGE}.NewStateReason"),
            alarm_description=pick_text(notification, f"{MESSAGE}.AlarmDescription"),
            metrics=_metrics(notification),
            # When the alarm changed state, not when SNS sent the message.
            occurred_at=pick_time(notification, f"{MESSAGE}.StateChangeTime")
            or pick_time(notification, "Timestamp"),
            details=pick_scalars(
                notification,
                {
                    "region": f"{MESSAGE}.Region",
                    "account": f"{MESSAGE}.AWSAccountId",
                    "alarm_arn": f"{MESSAGE}.AlarmArn",
                    "old_state": f"{MESSAGE}.OldStateValue",
                    "alarm_rule": f"{MESSAGE}.AlarmRule",
                    "topic_arn": "TopicArn",
                },
            ),
            idempotency_key=message_id,
            event_type=NOTIFICATION,
        )
    ]


def _alarm(message: str) -> Mapping[str, Any]:
    try:
        alarm = json.loads(message)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        alarm = None
    if not isinstance(alarm, Mapping) or not any(field in alarm for field in ALARM_FIELDS):
        raise Ignored("SNS message is not a CloudWatch alarm", event_type=NOTIFICATION)
    return alarm


def _metrics(notification: Mapping[str, Any]) -> list[Metric]:
    """The metric of a metric alarm, or the metrics a metric-math alarm's expressions read."""
    metric_name = pick_text(notification, f"{TRIGGER}.MetricName")
    watched = (
        [
            Metric(
                namespace=pick_text(notification, f"{TRIGGER}.Namespace"),
                name=metric_name,
                dimensions=listed_dimensions(notification, f"{TRIGGER}.Dimensions"),
            )
        ]
        if metric_name
        else []
    )
    queried = read_items(notification, f"{TRIGGER}.Metrics", _queried_metric)
    return watched + [metric for metric in queried if metric is not None]


def _queried_metric(query: Mapping[str, Any]) -> Metric | None:
    # An expression (`m1 * 1000`, `ANOMALY_DETECTION_BAND(m1, 2)`, a Metrics Insights query)
    # has no metric of its own.
    if pick(query, "MetricStat", Mapping, required=False) is None:
        return None
    return Metric(
        namespace=pick_text(query, "MetricStat.Metric.Namespace"),
        name=pick_text(query, "MetricStat.Metric.MetricName"),
        dimensions=listed_dimensions(query, "MetricStat.Metric.Dimensions"),
    )
