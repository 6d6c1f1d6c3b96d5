"""The HCP Terraform adapter: every fixture, each trigger and run status, and the bodies it must
refuse or skip."""

from typing import Any

import pytest

from changes.adapters import terraform_cloud
from changes.adapters.base import CanonicalChange
from common.times import parse_timestamp
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "terraform_cloud"
# The fixtures that reach the adapter (bad_signature is refused before it).
CONVERTED = [
    name for name in fixture_names(PRODUCER) if "action" in load_fixture(PRODUCER, name)["expect"]
]
NOTIFICATION = "notifications.0"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return terraform_cloud.to_canonical(*fixture_request(PRODUCER, name, changes))


def notified(trigger: str, run_status: str | None, **more: Any) -> dict[str, Any]:
    """Changes to run_applied's notification: another trigger and run status."""
    return {f"{NOTIFICATION}.trigger": trigger, f"{NOTIFICATION}.run_status": run_status, **more}


@pytest.mark.parametrize("name", CONVERTED)
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


def test_an_applied_run_is_an_infrastructure_change_of_its_workspace():
    change = convert("run_applied")
    assert (change.component, change.kind, change.outcome) == (
        "postgres-main-prod",
        "infrastructure",
        "succeeded",
    )
    assert change.summary == "Raise max_connections to 1200 (#214)"
    assert change.description == "Run Applied"
    assert change.identity == "run:run-8sFk2LpQz4VwN1xJ"
    assert change.event_id == "run:run-8sFk2LpQz4VwN1xJ:run:completed"
    assert change.event_type == "run:completed"
    assert change.links == (
        {
            "href": "https://app.terraform.io/app/acme-shop/postgres-main-prod/runs/"
            "run-8sFk2LpQz4VwN1xJ",
            "text": "Run",
        },
    )
    assert change.metadata["organization"] == "acme-shop"
    assert change.metadata["run_status"] == "applied"


def test_the_payload_names_no_commit_branch_version_environment_or_delivery():
    change = convert("run_applied")
    assert (change.commit, change.branch, change.version, change.environment) == ("", "", "", "")
    assert change.idempotency_key == ""


def test_millisecond_timestamps_are_read_exactly():
    change = convert("run_applied", {f"{NOTIFICATION}.run_updated_at": "2026-11-20T14:03:26.250Z"})
    assert change.occurred_at == parse_timestamp("2026-11-20T14:03:26.250+00:00")
    assert change.occurred_at.microsecond == 250_000


def test_applying_starts_the_change_of_its_run():
    applying = convert(
        "run_applied",
        notified(
            "run:applying",
            "applying",
            **{
                f"{NOTIFICATION}.message": "Run Applying",
                f"{NOTIFICATION}.run_updated_at": "2026-11-20T14:01:02.000Z",
            },
        ),
    )
    applied = convert("run_applied")
    assert applying.outcome == "started"
    assert applying.occurred_at == parse_timestamp("2026-11-20T14:01:02Z")
    assert applying.identity == applied.identity
    assert applying.event_id != applied.event_id
    assert applying.event_type == "run:applying"


@pytest.mark.parametrize(
    ("run_status", "outcome"),
    [("errored", "failed"), ("canceled", "cancelled"), ("force_canceled", "cancelled")],
)
def test_an_errored_notification_ends_the_run_by_its_status(run_status, outcome):
    change = convert("run_errored", {f"{NOTIFICATION}.run_status": run_status})
    assert change.outcome == outcome
    assert change.identity == "run:run-Zc4mT7yBq2WxE9sK"


def test_a_completed_run_whose_status_is_missing_is_taken_as_applied():
    assert convert("run_applied", {f"{NOTIFICATION}.run_status": None}).outcome == "succeeded"


@pytest.mark.parametrize("trigger", ["run:created", "run:planning", "run:needs_attention"])
def test_a_run_that_has_only_planned_is_ignored(trigger):
    ignored = skipped(convert, "run_applied", notified(trigger, "planned"))
    assert (ignored.reason, ignored.event_type) == (
        f"trigger {trigger}: the run has changed nothing yet",
        trigger,
    )


@pytest.mark.parametrize(
    ("trigger", "run_status"),
    [
        ("run:completed", "planned_and_finished"),
        ("run:completed", "planned_and_saved"),
        ("run:errored", "discarded"),
    ],
)
def test_a_run_that_ended_without_applying_is_ignored(trigger, run_status):
    ignored = skipped(convert, "run_applied", notified(trigger, run_status))
    assert ignored.reason == (
        f"trigger {trigger} with run_status {run_status}: the run applied nothing"
    )


def test_an_unknown_trigger_is_ignored_by_name():
    ignored = skipped(convert, "run_applied", notified("run:policy_checked", "policy_checked"))
    assert (ignored.reason, ignored.event_type) == (
        "trigger not recorded: run:policy_checked",
        "run:policy_checked",
    )


def test_the_verification_request_is_ignored_with_every_run_field_null():
    body, headers = fixture_request(PRODUCER, "verification_ignored")
    assert all(body[name] is None for name in ("run_id", "workspace_name", "run_url"))
    ignored = skipped(terraform_cloud.to_canonical, body, headers)
    assert (ignored.reason, ignored.event_type) == ("verification", "verification")


def test_a_workspace_event_without_a_notifications_list_is_ignored():
    body = {
        "payload_version": "2",
        "trigger_scope": "assessment",
        "trigger": "assessment:drifted",
        "message": "Drift detected",
        "details": {"workspace_name": "postgres-main-prod"},
    }
    ignored = skipped(terraform_cloud.to_canonical, body, {})
    assert ignored.reason == "trigger not recorded: assessment:drifted"


def test_the_latest_of_several_notifications_decides_and_an_apply_gives_the_start():
    body, headers = fixture_request(PRODUCER, "run_applied")
    completed = body["notifications"][0]
    applying = {
        **completed,
        "message": "Run Applying",
        "trigger": "run:applying",
        "run_status": "applying",
        "run_updated_at": "2026-11-20T14:01:02.000Z",
    }
    body["notifications"] = [completed, applying]

    change = terraform_cloud.to_canonical(body, headers)

    assert change.outcome == "succeeded"
    assert change.occurred_at == parse_timestamp(completed["run_updated_at"])
    assert change.started_at == parse_timestamp("2026-11-20T14:01:02Z")


def test_triggered_by_is_who_created_the_run_not_who_updated_it():
    change = convert("run_errored", {f"{NOTIFICATION}.run_updated_by": "ops-bot"})
    assert change.triggered_by == "lena.fischer"
    assert change.metadata["run_updated_by"] == "ops-bot"


def test_without_a_run_message_the_summary_names_the_state_and_workspace():
    change = convert("run_applied", {"run_message": None})
    assert change.summary == "Run Applied in postgres-main-prod"


def test_a_run_url_that_is_not_http_is_dropped():
    assert convert("run_applied", {"run_url": "javascript:alert(1)"}).links == ()


def test_without_run_updated_at_the_receive_time_is_used():
    assert convert("run_applied", {f"{NOTIFICATION}.run_updated_at": None}).occurred_at is None


@pytest.mark.parametrize("body", [[], "run:completed", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    assert refused(terraform_cloud.to_canonical, body, {}).field_name == "body"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"notifications": REMOVED}, "notifications"),
        ({"notifications": []}, "notifications"),
        ({"notifications": {"trigger": "run:completed"}}, "notifications"),
        ({"notifications.0": "run:completed"}, "notifications.0"),
        ({f"{NOTIFICATION}.trigger": REMOVED}, f"{NOTIFICATION}.trigger"),
        ({f"{NOTIFICATION}.trigger": ["run:completed"]}, f"{NOTIFICATION}.trigger"),
        ({f"{NOTIFICATION}.run_status": {"applied": True}}, f"{NOTIFICATION}.run_status"),
        ({f"{NOTIFICATION}.run_updated_at": "yesterday"}, f"{NOTIFICATION}.run_updated_at"),
        ({f"{NOTIFICATION}.run_updated_at": True}, f"{NOTIFICATION}.run_updated_at"),
        ({"workspace_name": REMOVED}, "workspace_name"),
        ({"workspace_name": None}, "workspace_name"),
        ({"workspace_name": {"name": "x"}}, "workspace_name"),
        ({"workspace_name": "x" * 201}, "workspace_name"),
        ({"run_id": REMOVED}, "run_id"),
        ({"run_id": ["run-1"]}, "run_id"),
        ({"run_created_by": ["j.meyer"]}, "run_created_by"),
    ],
)
def test_missing_or_wrong_typed_fields_are_named(changes, field):
    assert refused(convert, "run_applied", changes).field_name == field


def test_the_second_of_two_notifications_is_named_when_it_is_wrong():
    body, headers = fixture_request(PRODUCER, "run_applied")
    body["notifications"].append({"trigger": None, "run_status": "applied"})
    invalid = refused(terraform_cloud.to_canonical, body, headers)
    assert invalid.field_name == "notifications.1.trigger"


def test_unicode_values_are_kept():
    change = convert(
        "run_applied",
        {
            "workspace_name": "datenbank-prød",
            "run_message": "Größere Knoten für die Suche ✅",
            "run_created_by": "zoë.müller",
        },
    )
    assert (change.component, change.summary, change.triggered_by) == (
        "datenbank-prød",
        "Größere Knoten für die Suche ✅",
        "zoë.müller",
    )
