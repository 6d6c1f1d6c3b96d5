"""The CodePipeline adapter: every CodePipeline fixture, and the events it must refuse or skip."""

import json
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import codepipeline
from changes.adapters.base import CanonicalChange
from common.payloads import Ignored, PayloadInvalid
from common.times import parse_timestamp
from tests.fixtures import fixture_names, load_fixture

SUCCEEDED = "pipeline_execution_succeeded"
FAILED = "pipeline_execution_failed"


def delivery(
    name: str, changes: dict[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and headers, with each dotted path in `changes` set anew."""
    fixture = load_fixture("codepipeline", name)
    body = json.loads(fixture["body"])
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        target[last] = value
    return body, CaseInsensitiveMapping(fixture["headers"])


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return codepipeline.to_canonical(*delivery(name, changes))


def refusal(body: Any, headers: CaseInsensitiveMapping) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as invalid:
        codepipeline.to_canonical(body, headers)
    return invalid.value


def ignored(name: str, changes: dict[str, Any] | None = None) -> Ignored:
    with pytest.raises(Ignored) as skipped:
        convert(name, changes)
    return skipped.value


@pytest.mark.parametrize("name", fixture_names("codepipeline"))
def test_fixture_converts_as_expected(name):
    expect = load_fixture("codepipeline", name)["expect"]
    if expect["action"] == "ignore":
        assert ignored(name).reason == expect["reason"]
        return
    assert expect["action"] == "record"
    change = convert(name)
    for field, expected in expect.items():
        if field == "action":
            continue
        actual = getattr(change, field)
        if field == "component":
            assert actual == expected.strip().lower(), field
        elif field == "occurred_at":
            assert actual == parse_timestamp(expected), field
        else:
            assert actual == expected, field


@pytest.mark.parametrize("body", [[], "event", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = delivery(SUCCEEDED)
    assert refusal(body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = delivery(SUCCEEDED)
    change = codepipeline.to_canonical(body, CaseInsensitiveMapping({}))
    assert change.idempotency_key == "6f1e3c2a-94b7-7d10-2c58-0a9e4b1f7d36"


def test_the_whole_run_is_described():
    change = convert(SUCCEEDED)
    assert change.summary == "payments-prod pipeline execution succeeded"
    assert (change.branch, change.event_type) == (
        "main",
        "CodePipeline Pipeline Execution State Change",
    )
    assert change.metadata == {
        "region": "eu-west-1",
        "account": "314159265358",
        "execution_id": "3f2b6c1e-8a47-4d9b-b0f5-61c2d7e9a104",
        "pipeline_arn": "arn:aws:codepipeline:eu-west-1:314159265358:payments-prod",
        "pipeline_version": 7,
        "execution_attempt": 1,
        "repository": "acme-shop/payments-service",
        "commit_message": "Retry card authorisations on gateway timeouts (#812)",
    }


def test_floats_from_eventbridge_are_whole_numbers_again():
    metadata = convert(FAILED).metadata
    assert (metadata["pipeline_version"], metadata["execution_attempt"]) == (12, 1)
    assert isinstance(metadata["pipeline_version"], int)


def test_a_fractional_version_is_kept_as_sent():
    assert convert(FAILED, {"detail.version": 7.5}).metadata["pipeline_version"] == 7.5


def test_a_started_execution_is_recorded_as_started():
    change = convert(SUCCEEDED, {"detail.state": "STARTED"})
    assert (change.outcome, change.summary) == (
        "started",
        "payments-prod pipeline execution started",
    )


@pytest.mark.parametrize("state", ["STOPPING", "STOPPED", "SUPERSEDED", "CANCELED", "RESUMED"])
def test_an_execution_that_finished_no_deployment_is_ignored(state):
    skipped = ignored(SUCCEEDED, {"detail.state": state})
    assert skipped.reason == f"pipeline execution state not recorded: {state}"
    assert skipped.event_type == "CodePipeline Pipeline Execution State Change"


@pytest.mark.parametrize(
    "detail_type",
    ["CodePipeline Stage Execution State Change", "CodePipeline Action Execution State Change"],
)
def test_stage_and_action_events_are_ignored(detail_type):
    skipped = ignored(SUCCEEDED, {"detail-type": detail_type})
    assert (skipped.reason, skipped.event_type) == (
        f"event type not used: {detail_type}",
        detail_type,
    )


@pytest.mark.parametrize("field_name", ["detail-type", "detail", "detail.state", "detail.pipeline"])
def test_a_missing_required_field_is_named(field_name):
    body, headers = delivery(SUCCEEDED)
    *parents, last = field_name.split(".")
    del (body[parents[0]] if parents else body)[last]
    assert refusal(body, headers).field_name == field_name


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"detail": "SUCCEEDED"}, "detail", "Expected an object, got a string."),
        (
            {"detail.execution-trigger": ["main"]},
            "detail.execution-trigger",
            "Expected an object, got a list.",
        ),
        ({"detail.pipeline": {"name": "payments"}}, "detail.pipeline", None),
        ({"time": True}, "time", "Expected a string or a number, got a boolean."),
        ({"time": {"at": "2026-11-20"}}, "time", None),
        ({"time": "yesterday"}, "time", None),
        ({"detail.version": "7"}, "detail.version", None),
        (
            {"detail.execution-trigger.commit-id": "f" * 101},
            "detail.execution-trigger.commit-id",
            None,
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refusal(*delivery(SUCCEEDED, changes))
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_without_a_time_the_receive_time_is_used():
    body, headers = delivery(SUCCEEDED)
    del body["time"]
    assert codepipeline.to_canonical(body, headers).occurred_at is None


def test_the_commit_author_login_is_preferred_to_the_display_name():
    assert convert(SUCCEEDED).triggered_by == "dana-ops"
    change = convert(SUCCEEDED, {"detail.execution-trigger.author-id": None})
    assert change.triggered_by == "Dana Ops"


def test_a_run_started_by_hand_names_the_caller_from_its_role_session():
    change = convert(FAILED)
    assert (change.triggered_by, change.commit, change.version, change.branch) == (
        "ana.silva",
        "",
        "",
        "",
    )


@pytest.mark.parametrize(
    ("trigger_detail", "triggered_by"),
    [
        ("arn:aws:iam::314159265358:user/ops/jonas", "jonas"),
        ("arn:aws:events:eu-west-1:314159265358:rule/nightly", ""),
    ],
)
def test_only_a_person_caller_is_the_trigger(trigger_detail, triggered_by):
    change = convert(FAILED, {"detail.execution-trigger.trigger-detail": trigger_detail})
    assert change.triggered_by == triggered_by


def test_an_execution_without_a_trigger_is_recorded():
    body, headers = delivery(FAILED)
    del body["detail"]["execution-trigger"]
    change = codepipeline.to_canonical(body, headers)
    assert (change.outcome, change.triggered_by) == ("failed", "")
    assert "trigger_type" not in change.metadata


def test_unicode_values_are_kept():
    change = convert(
        SUCCEEDED,
        {
            "detail.execution-trigger.author-id": None,
            "detail.execution-trigger.author-display-name": "Zoë Ødegård",
            "detail.execution-trigger.commit-message": "Kassenbon über 10 € — fix ✅",
        },
    )
    assert change.triggered_by == "Zoë Ødegård"
    assert change.metadata["commit_message"] == "Kassenbon über 10 € — fix ✅"
