"""The EventBridge adapter: every fixture, alarm shapes, ECS stopped tasks, the Lambda event."""

import json
import re
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from common.times import parse_timestamp
from incidents.adapters import eventbridge
from incidents.adapters.base import AlertAction, CanonicalAlert
from tests.adapters import REMOVED, fixture_request, refused, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "eventbridge"
ALARM = "01_alarm_state_change_alarm"
OK = "02_alarm_state_change_ok"
TASK_FAILED = "03_ecs_task_stopped_exit_code"
SCALE_IN = "04_ecs_task_stopped_scale_in"
LAMBDA = "05_lambda_alarm_action"
ACTIONS = {"raise": AlertAction.TRIGGER, "resolve": AlertAction.RESOLVE}
METRICS = "detail.configuration.metrics"
DIMENSIONS = f"{METRICS}.0.metricStat.metric.dimensions"
PULL_ERROR = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    "resolve ref 482916573014.dkr.ecr.us-east-1.amazonaws.com/payments-api:2026.11.20-4: not found"
)


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalAlert:
    alerts = eventbridge.to_alerts(*fixture_request(PRODUCER, name, changes))
    assert len(alerts) == 1
    return alerts[0]


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expect = fixture["expect"]
    if expect["action"] == "ignore":
        assert skipped(convert, name).reason == expect["reason"]
        return
    alert = convert(name)
    assert alert.action == ACTIONS[expect["action"]]
    assert alert.alias == expect["alias"]
    assert alert.title == expect["title"]
    # Neither CloudWatch nor ECS has a severity: the source default applies.
    assert alert.severity == ""
    if expect["components"] == fixture["source_settings"]["default_components"]:
        assert alert.components == ()
    else:
        components = [component.strip().lower() for component in alert.components]
        assert components == expect["components"]


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        (ALARM, "CloudWatch Alarm State Change"),
        (OK, "CloudWatch Alarm State Change"),
        (TASK_FAILED, "ECS Task State Change"),
    ],
)
def test_an_event_is_keyed_by_its_id(name, event_type):
    alert = convert(name)
    assert (alert.idempotency_key, alert.event_type) == (
        json.loads(load_fixture(PRODUCER, name)["body"])["id"],
        event_type,
    )


@pytest.mark.parametrize("body", [[], "event", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, ALARM)
    assert refused(eventbridge.to_alerts, body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = fixture_request(PRODUCER, ALARM)
    (alert,) = eventbridge.to_alerts(body, CaseInsensitiveMapping({}))
    assert alert.alias == "cloudwatch-CheckoutCpuHigh"


@pytest.mark.parametrize(
    "detail_type",
    [
        "CloudWatch Alarm Configuration Change",
        "CloudWatch Alarm Contributor State Change",
        "ECS Deployment State Change",
        "ECS Container Instance State Change",
        "EC2 Instance State-change Notification",
    ],
)
def test_other_event_types_are_ignored(detail_type):
    ignored = skipped(convert, ALARM, {"detail-type": detail_type})
    assert (ignored.reason, ignored.event_type) == (
        f"event type not used: {detail_type}",
        detail_type,
    )


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"detail-type": REMOVED}, "detail-type", "This field is required."),
        ({"detail-type": ""}, "detail-type", "This field is required."),
        ({"detail-type": 7}, "detail-type", "Expected a string, got a number."),
        ({"detail": REMOVED}, "detail", "This field is required."),
        ({"detail": "ALARM"}, "detail", "Expected an object, got a string."),
        ({"id": {"event": 1}}, "id", None),
        ({"time": "now"}, "time", None),
    ],
)
def test_a_bad_envelope_is_named(changes, field_name, problem):
    if "time" in changes:  # read only when the state has no timestamp
        changes = {**changes, "detail.state.timestamp": REMOVED}
    invalid = refused(convert, ALARM, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


# CloudWatch alarm state changes


def test_an_alarm_event_is_described():
    alert = convert(ALARM)
    assert alert.description.startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:01:15.404Z")
    assert alert.details == {
        "region": "us-east-1",
        "account": "482916573014",
        "alarm_arn": "arn:aws:cloudwatch:us-east-1:482916573014:alarm:CheckoutCpuHigh",
        "old_state": "OK",
        "alarm_description": "checkout-service CPU above 80% for 5 minutes",
        "state_reason": alert.description,
        "namespace": "AWS/ECS",
        "metric_name": "CPUUtilization",
    }


def test_without_a_state_timestamp_the_event_time_is_used():
    alert = convert(ALARM, {"detail.state.timestamp": REMOVED})
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:01:15Z")


def test_insufficient_data_is_left_to_the_alert_source():
    alert = convert(ALARM, {"detail.state.value": "INSUFFICIENT_DATA"})
    assert (alert.action, alert.alias) == (
        AlertAction.INSUFFICIENT_DATA,
        "cloudwatch-CheckoutCpuHigh",
    )


def test_an_environment_dimension_sets_the_environment():
    alert = convert(ALARM, {f"{DIMENSIONS}.ENV": "prod"})
    assert (alert.environment, alert.components) == ("prod", ("checkout-service",))


def test_a_lambda_function_dimension_names_the_component():
    alert = convert(ALARM, {DIMENSIONS: {"FunctionName": "orders-consumer", "Resource": "x"}})
    assert alert.components == ("orders-consumer",)


def test_an_alarm_without_a_component_dimension_leaves_the_source_defaults():
    alert = convert(ALARM, {DIMENSIONS: {"InstanceId": "i-12345678901234567"}})
    assert (alert.components, alert.environment) == ((), "")


def test_a_metric_math_alarm_names_every_queried_service_once():
    metrics = [
        {"expression": "m1 + m2 + m3", "id": "e1", "label": "Errors", "returnData": True},
        {
            "id": "m1",
            "metricStat": {
                "metric": {
                    "dimensions": {"FunctionName": "orders-consumer"},
                    "name": "Errors",
                    "namespace": "AWS/Lambda",
                },
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
        {
            "id": "m2",
            "metricStat": {
                "metric": {
                    "dimensions": {"ClusterName": "prod-main", "ServiceName": "checkout-service"},
                    "name": "Errors",
                    "namespace": "Checkout/API",
                },
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
        {
            "id": "m3",
            "metricStat": {
                "metric": {
                    "dimensions": {"FunctionName": "orders-consumer"},
                    "name": "Throttles",
                    "namespace": "AWS/Lambda",
                },
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
    ]
    alert = convert(ALARM, {METRICS: metrics, "detail.alarmName": "Orders errors"})
    assert alert.components == ("orders-consumer", "checkout-service")
    assert (alert.alias, alert.details["metric_name"]) == ("cloudwatch-Orders-errors", "Errors")


def test_an_anomaly_detection_alarm_in_another_region_reads_its_metric():
    metrics = [
        {
            "id": "m1",
            "metricStat": {
                "metric": {
                    "dimensions": {"ServiceName": "zahlungen", "Stage": "live"},
                    "name": "Latency",
                    "namespace": "Payments/API",
                },
                "period": 300,
                "stat": "p90",
            },
            "returnData": True,
        },
        {
            "expression": "ANOMALY_DETECTION_BAND(m1, 2)",
            "id": "ad1",
            "label": "Latency (expected)",
            "returnData": True,
        },
    ]
    alert = convert(
        ALARM,
        {
            METRICS: metrics,
            "region": "eu-central-1",
            "resources": ["arn:aws:cloudwatch:eu-central-1:482916573014:alarm:Zahlungen Latenz"],
            "detail.alarmName": "Zahlungen Latenz",
        },
    )
    assert (alert.alias, alert.title) == ("cloudwatch-Zahlungen-Latenz", "Zahlungen Latenz")
    assert (alert.components, alert.environment) == (("zahlungen",), "live")
    assert alert.details["region"] == "eu-central-1"


def test_a_composite_alarm_leaves_the_source_defaults_and_keeps_its_rule():
    rule = "ALARM(CheckoutCpuHigh) OR ALARM(CheckoutErrorsHigh)"
    configuration = {
        "alarmRule": rule,
        "actionsSuppressor": "CheckoutMaintenance",
        "actionsSuppressorWaitPeriod": 120,
        "actionsSuppressorExtensionPeriod": 180,
        "description": "Checkout is degraded",
    }
    reason = (
        "arn:aws:cloudwatch:us-east-1:482916573014:alarm:CheckoutCpuHigh transitioned to "
        "ALARM at Friday 20 November, 2026 14:01:15 UTC"
    )
    alert = convert(
        ALARM,
        {
            "detail.configuration": configuration,
            "detail.alarmName": "CheckoutDegraded",
            "detail.state.reason": reason,
        },
    )
    assert (alert.alias, alert.components, alert.description) == (
        "cloudwatch-CheckoutDegraded",
        (),
        reason,
    )
    assert alert.details["alarm_rule"] == rule
    assert "namespace" not in alert.details


def test_unicode_alarm_names_are_kept():
    alert = convert(ALARM, {"detail.alarmName": "Über-Last Kasse ✓ 支付"})
    assert (alert.alias, alert.title) == (
        "cloudwatch-Über-Last-Kasse-✓-支付",
        "Über-Last Kasse ✓ 支付",
    )


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"detail.alarmName": REMOVED}, "detail.alarmName", "This field is required."),
        ({"detail.alarmName": ["a"]}, "detail.alarmName", "Expected a string, got a list."),
        ({"detail.state": REMOVED}, "detail.state.value", "This field is required."),
        (
            {"detail.state.value": "alarm"},
            "detail.state.value",
            '"alarm" is not one of ALARM, OK, INSUFFICIENT_DATA.',
        ),
        ({METRICS: {"m1": {}}}, METRICS, "Expected a list, got an object."),
        ({f"{METRICS}.0": "CPUUtilization"}, f"{METRICS}.0", "Expected an object."),
        (
            {DIMENSIONS: "ServiceName=checkout-service"},
            DIMENSIONS,
            "Expected an object, got a string.",
        ),
        (
            {DIMENSIONS: [{"name": "ServiceName", "value": "checkout-service"}]},
            DIMENSIONS,
            "Expected an object, got a list.",
        ),
        (
            {f"{DIMENSIONS}.ServiceName": {"value": "checkout"}},
            f"{DIMENSIONS}.ServiceName",
            "Expected a string, got an object.",
        ),
        ({"detail.previousState": "OK"}, "detail.previousState", None),
    ],
)
def test_a_bad_alarm_field_is_named_with_its_path(changes, field_name, problem):
    invalid = refused(convert, ALARM, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


# ECS task state changes


def test_a_failed_task_is_described():
    alert = convert(TASK_FAILED)
    assert alert.description == "Essential container in task exited\npayments-api exited 1"
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:04:36.992Z")
    assert alert.environment == ""
    assert alert.details == {
        "region": "us-east-1",
        "account": "482916573014",
        "cluster_arn": "arn:aws:ecs:us-east-1:482916573014:cluster/prod-main",
        "task_arn": (
            "arn:aws:ecs:us-east-1:482916573014:task/prod-main/f6c1175c03f358a66f7a37b350806ba9"
        ),
        "task_definition_arn": (
            "arn:aws:ecs:us-east-1:482916573014:task-definition/payments-service:87"
        ),
        "stop_code": "EssentialContainerExited",
        "started_by": "ecs-svc/4416809243154562815",
    }


def test_without_a_stopped_at_the_event_time_is_used():
    alert = convert(TASK_FAILED, {"detail.stoppedAt": REMOVED})
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:04:37Z")


@pytest.mark.parametrize("status", ["PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING"])
def test_a_task_that_did_not_stop_is_ignored(status):
    ignored = skipped(convert, TASK_FAILED, {"detail.lastStatus": status})
    assert (ignored.reason, ignored.event_type) == (
        f"ECS task status not used: {status}",
        "ECS Task State Change",
    )


def test_a_container_killed_for_memory_names_its_reason():
    reason = "OutOfMemoryError: Container killed due to memory usage"
    alert = convert(
        TASK_FAILED, {"detail.containers.0.exitCode": 137, "detail.containers.0.reason": reason}
    )
    assert alert.title == f"payments-service: {reason}"
    assert alert.description.splitlines()[1] == f"payments-api exited 137: {reason}"


def test_a_task_that_failed_to_start_raises_with_the_container_reason():
    changes = {
        "detail.stopCode": "TaskFailedToStart",
        "detail.stoppedReason": "Task failed to start",
        "detail.containers.0.reason": PULL_ERROR,
        "detail.containers.0.lastStatus": "STOPPED",
        "detail.containers.0.exitCode": REMOVED,
        "detail.containers.1.exitCode": REMOVED,
        "detail.startedAt": REMOVED,
    }
    alert = convert(TASK_FAILED, changes)
    assert alert.action == AlertAction.TRIGGER
    assert (alert.alias, alert.components) == (
        "ecs-prod-main-payments-service",
        ("payments-service",),
    )
    assert alert.title == f"payments-service: {PULL_ERROR}"
    assert alert.description == f"Task failed to start\npayments-api: {PULL_ERROR}"


def test_a_task_that_failed_to_start_without_container_reasons_names_the_task_reason():
    reason = "ResourceInitializationError: unable to pull secrets or registry auth"
    changes = {
        "detail.stopCode": "TaskFailedToStart",
        "detail.stoppedReason": reason,
        "detail.containers.0.exitCode": REMOVED,
        "detail.containers.1.exitCode": REMOVED,
    }
    assert convert(TASK_FAILED, changes).title == f"payments-service: {reason}"


@pytest.mark.parametrize(
    ("stop_code", "stopped_reason"),
    [
        ("UserInitiated", "Task stopped by user"),
        ("SpotInterruption", "Your Spot Task was interrupted."),
        ("EssentialContainerExited", "Essential container in task exited"),
    ],
)
def test_any_other_stop_code_raises_even_if_every_container_exited_0(stop_code, stopped_reason):
    changes = {
        "detail.stopCode": stop_code,
        "detail.stoppedReason": stopped_reason,
        "detail.containers.0.exitCode": 0,
    }
    alert = convert(TASK_FAILED, changes)
    assert (alert.action, alert.title) == (
        AlertAction.TRIGGER,
        f"payments-service: {stopped_reason}",
    )


def test_a_scheduler_stop_with_a_container_exiting_non_zero_raises():
    alert = convert(SCALE_IN, {"detail.containers.1.exitCode": 143})
    assert alert.title == (
        "payments-service: Scaling activity initiated by (deployment ecs-svc/4416809243154562815)"
    )
    assert alert.description.endswith("\naws-otel-collector exited 143")


def test_a_stop_without_a_stop_code_or_failed_container_is_ignored():
    ignored = skipped(convert, SCALE_IN, {"detail.stopCode": REMOVED})
    assert ignored.reason == "task stopped without a failure (no stopCode, all containers exited 0)"


def test_a_stop_without_a_stop_code_but_a_failed_container_raises():
    alert = convert(TASK_FAILED, {"detail.stopCode": REMOVED})
    assert alert.title == "payments-service: Essential container in task exited"


def test_a_task_run_outside_a_service_is_named_by_its_family():
    changes = {
        "detail.group": "family:nightly-report",
        "detail.startedBy": "events-rule/nightly-report",
        "detail.containers.0.reason": "Error: report bucket not found",
    }
    alert = convert(TASK_FAILED, changes)
    # Kept apart from a service called nightly-report, which would share the family name.
    assert alert.alias == "ecs-prod-main-family-nightly-report"
    assert alert.components == ("nightly-report",)
    assert alert.title == "nightly-report: Error: report bucket not found"


def test_a_task_in_a_group_of_its_own_is_named_by_the_group():
    alert = convert(TASK_FAILED, {"detail.group": "db-migrations"})
    assert (alert.alias, alert.components) == ("ecs-prod-main-db-migrations", ("db-migrations",))


def test_a_cluster_named_without_an_arn_is_used_as_is():
    alert = convert(TASK_FAILED, {"detail.clusterArn": "prod-eu"})
    assert alert.alias == "ecs-prod-eu-payments-service"


def test_a_task_without_containers_is_described_by_its_stop():
    alert = convert(TASK_FAILED, {"detail.containers": REMOVED})
    assert alert.title == "payments-service: Essential container in task exited"


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"detail.group": REMOVED}, "detail.group", "This field is required."),
        ({"detail.group": ""}, "detail.group", "This field may not be blank."),
        ({"detail.clusterArn": REMOVED}, "detail.clusterArn", "This field is required."),
        ({"detail.lastStatus": REMOVED}, "detail.lastStatus", "This field is required."),
        ({"detail.containers": "payments-api"}, "detail.containers", None),
        ({"detail.containers.1": "aws-otel-collector"}, "detail.containers.1", None),
        (
            {"detail.containers.0.exitCode": "1"},
            "detail.containers.0.exitCode",
            "Expected a number, got a string.",
        ),
        ({"detail.containers.0.exitCode": True}, "detail.containers.0.exitCode", None),
        ({"detail.containers.0.reason": ["OOM"]}, "detail.containers.0.reason", None),
        ({"detail.stoppedAt": "later"}, "detail.stoppedAt", None),
        ({"detail.stopCode": {"code": 1}}, "detail.stopCode", None),
    ],
)
def test_a_bad_task_field_is_named_with_its_path(changes, field_name, problem):
    invalid = refused(convert, TASK_FAILED, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


# The Lambda alarm-action event


def test_the_lambda_event_is_keyed_by_its_alarm_and_state_time():
    alert = convert(LAMBDA)
    assert alert.idempotency_key == (
        "arn:aws:cloudwatch:us-east-1:482916573014:alarm:OrdersConsumerErrors"
        ":2026-11-20T14:06:10.602+0000"
    )
    assert alert.event_type == "alarmData"
    assert alert.occurred_at == parse_timestamp("2026-11-20T14:06:10.602Z")
    assert (alert.details["account"], alert.details["metric_name"]) == ("482916573014", "Errors")


def test_a_retried_lambda_invocation_has_the_same_key_and_the_next_change_another():
    first = convert(LAMBDA).idempotency_key
    assert convert(LAMBDA).idempotency_key == first
    later = convert(LAMBDA, {"alarmData.state.timestamp": "2026-11-20T14:16:10.602+0000"})
    assert later.idempotency_key not in ("", first)


@pytest.mark.parametrize("removed", ["alarmArn", "alarmData.state.timestamp"])
def test_a_lambda_event_without_its_arn_or_state_time_has_no_key(removed):
    assert convert(LAMBDA, {removed: REMOVED}).idempotency_key == ""


def test_a_lambda_event_without_a_state_time_happened_at_the_event_time():
    changes = {"alarmData.state.timestamp": REMOVED, "time": "2026-11-20T14:06:11.000+0000"}
    assert convert(LAMBDA, changes).occurred_at == parse_timestamp("2026-11-20T14:06:11Z")


def test_a_long_alarm_name_gives_a_digest_key_that_fits_and_repeats():
    name = "orders-consumer errors " + "x" * 200
    changes = {
        "alarmData.alarmName": name,
        "alarmArn": f"arn:aws:cloudwatch:us-east-1:482916573014:alarm:{name}",
    }
    key = convert(LAMBDA, changes).idempotency_key
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert convert(LAMBDA, changes).idempotency_key == key


def test_a_composite_alarm_in_the_lambda_event_leaves_the_source_defaults():
    configuration = {"alarmRule": "ALARM(OrdersConsumerErrors) AND ALARM(OrdersQueueDepth)"}
    alert = convert(
        LAMBDA,
        {"alarmData.configuration": configuration, "alarmData.state.value": "OK"},
    )
    assert (alert.action, alert.components) == (AlertAction.RESOLVE, ())
    assert alert.details["alarm_rule"] == configuration["alarmRule"]


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"alarmData": None}, "alarmData", "This field is required."),
        ({"alarmData": "OrdersConsumerErrors"}, "alarmData", None),
        ({"alarmData.alarmName": REMOVED}, "alarmData.alarmName", "This field is required."),
        ({"alarmData.state.value": "FIRING"}, "alarmData.state.value", None),
        (
            {"alarmData.configuration.metrics.0.metricStat.metric.dimensions": "orders"},
            "alarmData.configuration.metrics.0.metricStat.metric.dimensions",
            "Expected an object, got a string.",
        ),
        ({"alarmArn": 12}, "alarmArn", "Expected a string, got a number."),
    ],
)
def test_a_bad_lambda_event_field_is_named_with_its_path(changes, field_name, problem):
    invalid = refused(convert, LAMBDA, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_a_body_with_neither_detail_type_nor_alarm_data_is_invalid():
    assert refused(convert, LAMBDA, {"alarmData": REMOVED}).field_name == "detail-type"


def test_an_event_with_a_detail_type_is_read_by_it_even_with_alarm_data():
    body, headers = fixture_request(PRODUCER, ALARM)
    body["alarmData"] = json.loads(load_fixture(PRODUCER, LAMBDA)["body"])["alarmData"]
    (alert,) = eventbridge.to_alerts(body, headers)
    assert (alert.alias, alert.event_type) == (
        "cloudwatch-CheckoutCpuHigh",
        "CloudWatch Alarm State Change",
    )
