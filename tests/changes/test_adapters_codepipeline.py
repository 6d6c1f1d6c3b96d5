"""The CodePipeline adapter: every CodePipeline fixture, and the events it must refuse or skip."""

from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import codepipeline
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "codepipeline"
SUCCEEDED = "pipeline_execution_succeeded"
FAILED = "pipeline_execution_failed"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return codepipeline.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "event", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, SUCCEEDED)
    assert refused(codepipeline.to_canonical, body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = fixture_request(PRODUCER, SUCCEEDED)
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


@pytest.mark.parametrize("state", ["STOPPED", "SUPERSEDED", "CANCELED"])
def test_an_execution_stopped_or_superseded_is_cancelled(state):
    change = convert(SUCCEEDED, {"detail.state": state})
    assert (change.outcome, change.identity) == (
        "cancelled",
        f"execution:{change.metadata['execution_id']}",
    )


def test_the_states_of_one_execution_are_one_identity():
    started = convert(SUCCEEDED, {"detail.state": "STARTED"})
    assert started.outcome == "started"
    assert started.identity == convert(SUCCEEDED).identity != ""


@pytest.mark.parametrize("trigger", ["AutomatedRollback", "ManualRollback"])
def test_a_rollback_execution_is_a_rollback(trigger):
    change = convert(SUCCEEDED, {"detail.execution-trigger.trigger-type": trigger})
    assert change.kind == "rollback"


@pytest.mark.parametrize("state", ["STOPPING", "RESUMED"])
def test_an_execution_step_that_is_no_state_of_the_change_is_ignored(state):
    ignored = skipped(convert, SUCCEEDED, {"detail.state": state})
    assert ignored.reason == f"pipeline execution state not recorded: {state}"
    assert ignored.event_type == "CodePipeline Pipeline Execution State Change"


@pytest.mark.parametrize(
    "detail_type",
    ["CodePipeline Stage Execution State Change", "CodePipeline Action Execution State Change"],
)
def test_stage_and_action_events_are_ignored(detail_type):
    ignored = skipped(convert, SUCCEEDED, {"detail-type": detail_type})
    assert (ignored.reason, ignored.event_type) == (
        f"event type not used: {detail_type}",
        detail_type,
    )


@pytest.mark.parametrize("field_name", ["detail-type", "detail", "detail.state", "detail.pipeline"])
def test_a_missing_required_field_is_named(field_name):
    assert refused(convert, SUCCEEDED, {field_name: REMOVED}).field_name == field_name


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
    invalid = refused(convert, SUCCEEDED, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_without_a_time_the_receive_time_is_used():
    assert convert(SUCCEEDED, {"time": REMOVED}).occurred_at is None


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
    change = convert(FAILED, {"detail.execution-trigger": REMOVED})
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
