"""The GitHub adapter: every GitHub fixture, and the bodies it must refuse or skip."""

from typing import Any

import pytest

from changes.adapters import github
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
    without_header,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "github"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return github.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "push", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, "push_default_branch")
    assert refused(github.to_canonical, body, headers).field_name == "body"


def test_the_event_header_is_required():
    body, headers = fixture_request(PRODUCER, "push_default_branch")
    invalid = refused(github.to_canonical, body, without_header(headers, "X-GitHub-Event"))
    assert invalid.field_name == "X-GitHub-Event"


def test_without_a_delivery_id_the_key_is_left_to_the_idempotency_key_header():
    body, headers = fixture_request(PRODUCER, "push_default_branch")
    change = github.to_canonical(body, without_header(headers, "X-GitHub-Delivery"))
    assert change.idempotency_key == ""


def test_a_missing_repository_name_is_named():
    changes = {"repository.name": REMOVED}
    invalid = refused(convert, "deployment_status_success", changes)
    assert invalid.field_name == "repository.name"


def test_a_deployment_status_that_is_not_an_object_is_named():
    invalid = refused(convert, "deployment_status_success", {"deployment_status": "success"})
    assert invalid.fields == {"deployment_status": ["Expected an object, got a string."]}


def test_a_push_ref_must_be_a_string():
    assert refused(convert, "push_default_branch", {"ref": 7}).field_name == "ref"


def test_a_numeric_deployment_ref_is_refused_not_read_as_text():
    # GitHub sends refs as strings: a number is a hand-written body's bug, not version "4".
    invalid = refused(convert, "deployment_status_success", {"deployment.ref": 4})
    assert invalid.fields == {"deployment.ref": ["Expected a string, got a number."]}


def test_numeric_ids_are_still_read_as_text():
    change = convert("deployment_status_success")
    assert change.identity == "deployment:2901184467"


def test_an_unreadable_time_is_named():
    changes = {"deployment_status.created_at": "now"}
    invalid = refused(convert, "deployment_status_success", changes)
    assert invalid.field_name == "deployment_status.created_at"


@pytest.mark.parametrize("state", ["pending", "queued", "in_progress"])
def test_a_deployment_under_way_is_started(state):
    change = convert("deployment_status_success", {"deployment_status.state": state})
    assert change.outcome == "started"


def test_an_inactive_deployment_is_ignored():
    ignored = skipped(convert, "deployment_status_success", {"deployment_status.state": "inactive"})
    assert ignored.reason == "deployment state not recorded: inactive"
    assert ignored.event_type == "deployment_status"


def test_statuses_of_one_deployment_share_its_identity_and_keep_their_own_ids():
    started, finished = (
        convert("deployment_status_queued_start"),
        convert("deployment_status_success_same_deployment"),
    )
    assert started.identity == finished.identity == "deployment:2901210377"
    assert started.event_id != finished.event_id
    assert started.event_id.startswith("deployment_status:")


def test_a_rollback_task_is_a_rollback():
    change = convert("deployment_status_success", {"deployment.task": "deploy:rollback"})
    assert change.kind == "rollback"


def test_a_deployment_error_is_a_failure():
    change = convert("deployment_status_success", {"deployment_status.state": "error"})
    assert change.outcome == "failed"


def test_a_deployment_without_a_description_is_summarised_from_ref_and_environment():
    change = convert("deployment_status_success", {"deployment.description": None})
    assert change.summary == "Deploy v4.7.0 to production"


def test_deployment_links_keep_http_only_and_each_url_once():
    change = convert(
        "deployment_status_failure", {"deployment_status.environment_url": "javascript:alert(1)"}
    )
    assert change.links == (
        {"href": "https://deploy.acme-shop.example/runs/8815", "text": "Deployment"},
    )


def test_the_environment_falls_back_to_the_deployment():
    change = convert("deployment_status_success", {"deployment_status.environment": None})
    assert change.environment == "production"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"ref": "refs/heads/feature/tax"},
            "push to a non-default branch not recorded: feature/tax",
        ),
        ({"ref": "refs/tags/v2.0.0"}, "tag push not recorded: v2.0.0"),
        ({"deleted": True}, "branch deletion not recorded: main"),
    ],
)
def test_a_push_that_is_not_to_the_default_branch_is_ignored(changes, reason):
    ignored = skipped(convert, "push_default_branch", changes)
    assert (ignored.reason, ignored.event_type) == (reason, "push")


def test_a_push_carries_its_branch_for_noise_filters():
    change = convert("push_default_branch")
    assert (change.branch, change.event_type) == ("main", "push")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"action": "requested"}, "workflow run action not recorded: requested"),
        (
            {"workflow_run.conclusion": "skipped"},
            "workflow run conclusion not recorded: skipped",
        ),
    ],
)
def test_a_workflow_run_that_changed_nothing_is_ignored(changes, reason):
    assert skipped(convert, "workflow_run_completed_success", changes).reason == reason


def test_a_workflow_run_in_progress_is_started_and_its_attempt_is_its_identity():
    started = convert("workflow_run_completed_success", {"action": "in_progress"})
    completed = convert("workflow_run_completed_success")
    assert (started.outcome, completed.outcome) == ("started", "succeeded")
    assert started.identity == completed.identity
    assert started.event_id != completed.event_id
    rerun = convert("workflow_run_completed_success", {"workflow_run.run_attempt": 2})
    assert rerun.identity != completed.identity


def test_a_cancelled_workflow_run_is_cancelled():
    change = convert("workflow_run_completed_success", {"workflow_run.conclusion": "cancelled"})
    assert change.outcome == "cancelled"


def test_a_timed_out_workflow_run_is_a_failure():
    change = convert("workflow_run_completed_success", {"workflow_run.conclusion": "timed_out"})
    assert (change.outcome, change.branch) == ("failed", "main")


def test_a_release_that_is_not_published_is_ignored():
    ignored = skipped(convert, "release_published", {"action": "created"})
    assert ignored.reason == "release action not recorded: created"


def test_unicode_values_are_kept():
    change = convert(
        "deployment_status_success",
        {
            "deployment_status.environment": "prøduktion",
            "deployment_status.description": "Déploiement terminé ✅",
            "deployment.creator.login": "zoë",
        },
    )
    assert (change.environment, change.description, change.triggered_by) == (
        "prøduktion",
        "Déploiement terminé ✅",
        "zoë",
    )
