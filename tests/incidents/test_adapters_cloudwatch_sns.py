"""The CloudWatch-via-SNS adapter: every Notification fixture, other alarm shapes, refusals."""

import copy
import json
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from common.times import parse_timestamp
from incidents.adapters import cloudwatch_sns
from incidents.adapters.base import ALIAS_LENGTH, AlertAction, CanonicalAlert
from tests.adapters import REMOVED, fixture_request, refused, set_path, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "sns_cloudwatch"
METRIC_ALARM = "02_alarm_metric"
MATH_ALARM = "04_insufficient_data"
COMPOSITE_ALARM = "05_composite_alarm"
ACTIONS = {"raise": AlertAction.TRIGGER, "resolve": AlertAction.RESOLVE}


def message_type(name: str) -> str:
    return json.loads(load_fixture(PRODUCER, name)["body"])["Type"]


# Subscription and unsubscribe confirmations are answered by the view before the adapter runs.
NOTIFICATIONS = [name for name in fixture_names(PRODUCER) if message_type(name) == "Notification"]
CONFIRMATIONS = [name for name in fixture_names(PRODUCER) if message_type(name) != "Notification"]


def delivery(
    name: str, alarm: dict[str, Any] | None = None, envelope: dict[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and headers, with paths in the alarm JSON and the envelope set."""
    body, headers = fixture_request(PRODUCER, name)
    if alarm:
        message = json.loads(body["Message"])
        for path, value in alarm.items():
            set_path(message, path, value)
        body["Message"] = json.dumps(message)
    for path, value in (envelope or {}).items():
        set_path(body, path, value)
    return body, headers


def convert(
    name: str, alarm: dict[str, Any] | None = None, envelope: dict[str, Any] | None = None
) -> CanonicalAlert:
    alerts = cloudwatch_sns.to_alerts(*delivery(name, alarm, envelope))
    assert len(alerts) == 1
    return alerts[0]


def test_the_fixtures_hold_notifications_and_confirmations():
    assert NOTIFICATIONS == [METRIC_ALARM, "03_ok_metric", MATH_ALARM, COMPOSITE_ALARM]
    assert len(CONFIRMATIONS) == 2


@pytest.mark.parametrize("name", NOTIFICATIONS)
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expect = fixture["expect"]
    alert = convert(name)
    if expect["action"] == "ignore":
        # Only the alert source's setting ignores INSUFFICIENT_DATA: the adapter hands it on.
        assert alert.action == AlertAction.INSUFFICIENT_DATA
        expect = {**expect, **expect["when_source_raises_insufficient_data"]}
    else:
        assert alert.action == ACTIONS[expect["action"]]
    assert alert.alias == expect["alias"]
    assert alert.title == expect["title"]
    # CloudWatch has no severity: the source default (or medium for INSUFFICIENT_DATA) applies.
    assert alert.severity == ""
    if expect["components"] == fixture["source_settings"]["default_components"]:
        assert alert.components == ()
    else:
        components = [component.strip().lower() for component in alert.components]
        assert components == expect["components"]
    if "started_at" in expect:
        assert alert.occurred_at == parse_timestamp(expect["started_at"])
    message_id = json.loads(fixture["body"])["MessageId"]
    assert alert.idempotency_key == message_id == fixture["headers"]["x-amz-sns-message-id"]
    assert (alert.event_type, alert.links) == ("Notification", ())


@pytest.mark.parametrize("name", CONFIRMATIONS)
def test_a_confirmation_reaching_the_adapter_is_refused(name):
    invalid = refused(cloudwatch_sns.to_alerts, *delivery(name))
    assert invalid.field_name == "Type"
    assert invalid.fields == {"Type": [f'"{message_type(name)}" is not a Notification.']}


@pytest.mark.parametrize("body", [[], "Notification", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = delivery(METRIC_ALARM)
    assert refused(cloudwatch_sns.to_alerts, body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = delivery(METRIC_ALARM)
    (alert,) = cloudwatch_sns.to_alerts(body, CaseInsensitiveMapping({}))
    assert alert.idempotency_key == "3b66e3dc-b752-5968-b1e7-60c1c420c992"


def test_a_metric_alarm_is_described():
    alert = convert(METRIC_ALARM)
    assert alert.description.startswith("Threshold Crossed: 3 out of the last 3 datapoints")
    assert alert.environment == "production"
    assert alert.details == {
        "region": "US East (N. Virginia)",
        "account": "482916573014",
        "alarm_arn": "arn:aws:cloudwatch:us-east-1:482916573014:alarm:HighErrorRate",
        "old_state": "OK",
        "topic_arn": "arn:aws:sns:us-east-1:482916573014:whatchanged-alarms",
        "alarm_description": "payments-service 5xx rate above 5% for 3 minutes",
        "state_reason": alert.description,
        "namespace": "Payments/API",
        "metric_name": "5xxErrorRate",
    }


def test_without_a_state_reason_the_alarm_description_describes_it():
    alert = convert(METRIC_ALARM, {"NewStateReason": REMOVED})
    assert alert.description == "payments-service 5xx rate above 5% for 3 minutes"
    assert "state_reason" not in alert.details


def test_the_state_change_time_with_a_colonless_offset_is_when_it_happened():
    alert = convert(METRIC_ALARM, {"StateChangeTime": "2026-11-20T15:00:02.118+0100"})
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:00:02.118Z")


def test_without_a_state_change_time_the_notification_time_is_used():
    alert = convert(METRIC_ALARM, {"StateChangeTime": REMOVED})
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:00:02.171Z")


def test_a_metric_math_alarm_reads_the_dimensions_of_the_metrics_it_queries():
    alert = convert(MATH_ALARM)
    assert alert.components == ("checkout-service",)
    assert (alert.details["namespace"], alert.details["metric_name"]) == (
        "Checkout/API",
        "RequestLatency",
    )


def test_a_metric_math_alarm_over_two_services_names_both_once():
    second = {
        "Id": "m2",
        "MetricStat": {
            "Metric": {
                "Dimensions": [
                    {"value": "payments-service", "name": "ServiceName"},
                    {"value": "Staging", "name": "stage"},
                ],
                "MetricName": "RequestLatency",
                "Namespace": "Checkout/API",
            },
            "Period": 60,
            "Stat": "p99",
        },
        "ReturnData": False,
    }
    third = {**copy.deepcopy(second), "Id": "m3"}
    body, headers = delivery(MATH_ALARM)
    alarm = json.loads(body["Message"])
    alarm["Trigger"]["Metrics"] += [second, third]
    body["Message"] = json.dumps(alarm)
    (alert,) = cloudwatch_sns.to_alerts(body, headers)
    assert alert.components == ("checkout-service", "payments-service")
    assert alert.environment == "Staging"


def test_an_anomaly_detection_alarm_reads_the_metric_its_band_is_drawn_around():
    trigger = {
        "Period": 300,
        "EvaluationPeriods": 2,
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        "ThresholdMetricId": "ad1",
        "TreatMissingData": "missing",
        "Metrics": [
            {
                "Expression": "ANOMALY_DETECTION_BAND(m1, 2)",
                "Id": "ad1",
                "Label": "Duration (expected)",
                "ReturnData": True,
            },
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [{"value": "orders-consumer", "name": "FunctionName"}],
                        "MetricName": "Duration",
                        "Namespace": "AWS/Lambda",
                    },
                    "Period": 300,
                    "Stat": "Average",
                },
                "ReturnData": True,
            },
        ],
    }
    alert = convert(
        METRIC_ALARM,
        {"AlarmName": "OrdersConsumerDurationAnomaly", "Trigger": trigger},
        {"Subject": 'ALARM: "OrdersConsumerDurationAnomaly" in Europe (Frankfurt)'},
    )
    assert (alert.alias, alert.components) == (
        "cloudwatch-OrdersConsumerDurationAnomaly",
        ("orders-consumer",),
    )
    assert (alert.details["namespace"], alert.details["metric_name"]) == ("AWS/Lambda", "Duration")


def test_a_composite_alarm_leaves_the_source_defaults_and_keeps_its_rule():
    alert = convert(COMPOSITE_ALARM)
    assert (alert.components, alert.environment) == ((), "")
    assert "alarm:PaymentsErrorBudgetBurn transitioned to ALARM" in alert.description
    assert alert.details["alarm_rule"] == (
        'ALARM("PaymentsErrorBudgetBurn") OR ALARM("PaymentsLatencyHigh")'
    )
    assert "namespace" not in alert.details


def test_an_alarm_in_another_region_keeps_its_region():
    region = "Asia Pacific (Tokyo)"
    alert = convert(
        METRIC_ALARM,
        {
            "Region": region,
            "AlarmArn": "arn:aws:cloudwatch:ap-northeast-1:482916573014:alarm:HighErrorRate",
        },
    )
    assert (alert.alias, alert.details["region"]) == ("cloudwatch-HighErrorRate", region)


def test_other_dimensions_name_no_component():
    dimensions = [{"value": "i-0abc", "name": "InstanceId"}, {"value": "x", "name": "servicename"}]
    alert = convert(METRIC_ALARM, {"Trigger.Dimensions": dimensions})
    assert (alert.components, alert.environment) == ((), "")


def test_spaces_in_the_alarm_name_become_dashes_in_the_alias_only():
    alert = convert(METRIC_ALARM, {"AlarmName": "Zahlungsfehler Über Limit ✓"})
    assert alert.alias == "cloudwatch-Zahlungsfehler-Über-Limit-✓"
    assert alert.title == "Zahlungsfehler Über Limit ✓"


def test_the_longest_alarm_name_still_fits_the_alias():
    name = "A" * 255
    alert = convert(METRIC_ALARM, {"AlarmName": name})
    assert (len(alert.alias), alert.title) == (ALIAS_LENGTH, name)


@pytest.mark.parametrize("message", ["Hello from the SNS console", "{", "[1, 2]", '"ALARM"', "{}"])
def test_a_message_that_is_not_an_alarm_is_ignored(message):
    envelope = {"Message": message}
    ignored = skipped(cloudwatch_sns.to_alerts, *delivery(METRIC_ALARM, envelope=envelope))
    assert (ignored.reason, ignored.event_type) == (
        "SNS message is not a CloudWatch alarm",
        "Notification",
    )


def test_other_json_published_to_the_topic_is_ignored():
    health = {"source": "aws.health", "detail-type": "AWS Health Event", "detail": {}}
    envelope = {"Message": json.dumps(health)}
    ignored = skipped(cloudwatch_sns.to_alerts, *delivery(METRIC_ALARM, envelope=envelope))
    assert ignored.reason == "SNS message is not a CloudWatch alarm"


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (REMOVED, "This field is required."),
        ({"AlarmName": "HighErrorRate"}, "Expected a string, got an object."),
        (["HighErrorRate"], "Expected a string, got a list."),
    ],
)
def test_a_message_that_is_not_a_string_is_invalid(message, problem):
    envelope = {"Message": message}
    invalid = refused(cloudwatch_sns.to_alerts, *delivery(METRIC_ALARM, envelope=envelope))
    assert invalid.fields == {"Message": [problem]}


@pytest.mark.parametrize(
    ("alarm", "field_name", "problem"),
    [
        ({"AlarmName": REMOVED}, "Message.AlarmName", "This field is required."),
        ({"AlarmName": " "}, "Message.AlarmName", "This field may not be blank."),
        ({"AlarmName": 42}, "Message.AlarmName", "Expected a string, got a number."),
        (
            {"AlarmName": "A" * 256},
            "Message.AlarmName",
            "Ensure this field has no more than 255 characters.",
        ),
        ({"NewStateValue": REMOVED}, "Message.NewStateValue", "This field is required."),
        (
            {"NewStateValue": "PENDING"},
            "Message.NewStateValue",
            '"PENDING" is not one of ALARM, OK, INSUFFICIENT_DATA.',
        ),
        ({"Trigger": "5xxErrorRate"}, "Message.Trigger", "Expected an object, got a string."),
        (
            {"Trigger.Dimensions": "ServiceName=payments-service"},
            "Message.Trigger.Dimensions",
            "Expected a list, got a string.",
        ),
        ({"Trigger.Dimensions.0": "payments-service"}, "Message.Trigger.Dimensions.0", None),
        (
            {"Trigger.Dimensions.1.name": ["Environment"]},
            "Message.Trigger.Dimensions.1.name",
            "Expected a string, got a list.",
        ),
        ({"Trigger.Dimensions.0.name": REMOVED}, "Message.Trigger.Dimensions.0.name", None),
        (
            {"StateChangeTime": "yesterday"},
            "Message.StateChangeTime",
            "Expected an ISO 8601 time or epoch seconds/milliseconds.",
        ),
        ({"Region": {"name": "us-east-1"}}, "Message.Region", None),
    ],
)
def test_a_bad_alarm_field_is_named_with_its_path(alarm, field_name, problem):
    invalid = refused(cloudwatch_sns.to_alerts, *delivery(METRIC_ALARM, alarm))
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


@pytest.mark.parametrize(
    ("alarm", "field_name"),
    [
        ({"Trigger.Metrics": {"m1": {}}}, "Message.Trigger.Metrics"),
        ({"Trigger.Metrics.1": "m1"}, "Message.Trigger.Metrics.1"),
        ({"Trigger.Metrics.1.MetricStat": "m1"}, "Message.Trigger.Metrics.1.MetricStat"),
        (
            {"Trigger.Metrics.1.MetricStat.Metric.Dimensions": {"ServiceName": "checkout"}},
            "Message.Trigger.Metrics.1.MetricStat.Metric.Dimensions",
        ),
        (
            {"Trigger.Metrics.1.MetricStat.Metric.Dimensions.0.value": {"v": 1}},
            "Message.Trigger.Metrics.1.MetricStat.Metric.Dimensions.0.value",
        ),
    ],
)
def test_a_bad_metric_math_field_is_named_with_its_path(alarm, field_name):
    assert refused(cloudwatch_sns.to_alerts, *delivery(MATH_ALARM, alarm)).field_name == field_name


@pytest.mark.parametrize(
    ("envelope", "field_name"),
    [
        ({"Type": REMOVED}, "Type"),
        ({"Type": 1}, "Type"),
        ({"MessageId": REMOVED}, "MessageId"),
        ({"MessageId": "m" * 201}, "MessageId"),
        ({"Timestamp": "soon"}, "Timestamp"),
        ({"TopicArn": ["arn:aws:sns:us-east-1:482916573014:whatchanged-alarms"]}, "TopicArn"),
    ],
)
def test_a_bad_envelope_field_is_named(envelope, field_name):
    alarm = {"StateChangeTime": REMOVED} if "Timestamp" in envelope else None
    invalid = refused(cloudwatch_sns.to_alerts, *delivery(METRIC_ALARM, alarm, envelope))
    assert invalid.field_name == field_name
