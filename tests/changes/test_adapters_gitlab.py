"""The GitLab adapter: every GitLab fixture, and the bodies it must refuse or skip."""

from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import gitlab
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

PRODUCER = "gitlab"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return gitlab.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "deployment", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, "deployment_hook_success")
    assert refused(gitlab.to_canonical, body, headers).field_name == "body"


def test_the_event_header_is_required():
    body, headers = fixture_request(PRODUCER, "deployment_hook_success")
    invalid = refused(gitlab.to_canonical, body, without_header(headers, "X-Gitlab-Event"))
    assert invalid.field_name == "X-Gitlab-Event"


def test_an_event_type_not_used_is_ignored():
    body, headers = fixture_request(PRODUCER, "deployment_hook_success")
    headers = CaseInsensitiveMapping({**headers, "X-Gitlab-Event": "Push Hook"})
    ignored = skipped(gitlab.to_canonical, body, headers)
    assert (ignored.reason, ignored.event_type) == (
        "event type not used: Push Hook",
        "Push Hook",
    )


def test_without_an_event_uuid_the_key_is_left_to_the_idempotency_key_header():
    body, headers = fixture_request(PRODUCER, "deployment_hook_success")
    change = gitlab.to_canonical(body, without_header(headers, "X-Gitlab-Event-UUID"))
    assert change.idempotency_key == ""


def test_a_missing_project_name_is_named():
    changes = {"project.name": REMOVED}
    invalid = refused(convert, "pipeline_hook_success_default_branch", changes)
    assert invalid.field_name == "project.name"


def test_a_project_that_is_not_an_object_is_named():
    invalid = refused(convert, "deployment_hook_success", {"project": "inventory-service"})
    assert invalid.fields == {"project": ["Expected an object, got a string."]}


def test_a_status_that_is_not_text_is_named():
    invalid = refused(convert, "deployment_hook_success", {"status": ["success"]})
    assert invalid.field_name == "status"


def test_an_unreadable_time_is_named():
    invalid = refused(convert, "deployment_hook_success", {"status_changed_at": "yesterday"})
    assert invalid.field_name == "status_changed_at"


def test_a_running_deployment_has_started():
    assert convert("deployment_hook_success", {"status": "running"}).outcome == "started"


def test_a_canceled_deployment_is_cancelled_and_shares_the_deployment_identity():
    cancelled = convert("deployment_hook_success", {"status": "canceled"})
    assert cancelled.outcome == "cancelled"
    assert cancelled.identity == convert("deployment_hook_running").identity == "deployment:58213"


def test_a_running_pipeline_has_started_and_shares_the_pipeline_identity():
    running = convert(
        "pipeline_hook_success_default_branch",
        {"object_attributes.status": "running", "object_attributes.finished_at": None},
    )
    finished = convert("pipeline_hook_success_default_branch")
    assert running.outcome == "started"
    assert running.identity == finished.identity != ""
    assert running.occurred_at == running.started_at == finished.started_at


@pytest.mark.parametrize("status", ["created"])
def test_a_deployment_that_changed_nothing_is_ignored(status):
    ignored = skipped(convert, "deployment_hook_success", {"status": status})
    assert (ignored.reason, ignored.event_type) == (
        f"deployment status not recorded: {status}",
        "Deployment Hook",
    )


def test_deployment_links_are_the_job_commit_and_environment():
    change = convert("deployment_hook_success")
    assert [link["text"] for link in change.links] == ["Job", "Commit", "Environment"]
    assert change.links[0]["href"].endswith("/-/jobs/902177")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"object_attributes.status": "pending"}, "pipeline status not recorded: pending"),
        ({"object_attributes.status": "skipped"}, "pipeline status not recorded: skipped"),
        (
            {"object_attributes.ref": "feature/stock"},
            "pipeline on a non-default branch not recorded: feature/stock",
        ),
        (
            {"object_attributes.ref": "v2.0.0", "object_attributes.tag": True},
            "tag pipeline not recorded: v2.0.0",
        ),
    ],
)
def test_a_pipeline_that_is_not_a_finished_default_branch_run_is_ignored(changes, reason):
    ignored = skipped(convert, "pipeline_hook_success_default_branch", changes)
    assert (ignored.reason, ignored.event_type) == (reason, "Pipeline Hook")


def test_a_failed_pipeline_is_recorded_with_its_branch():
    change = convert("pipeline_hook_success_default_branch", {"object_attributes.status": "failed"})
    assert (change.outcome, change.branch, change.environment) == ("failed", "main", "")


def test_unicode_values_are_kept():
    change = convert(
        "deployment_hook_success",
        {"environment": "prøduktion", "commit_title": "Lagerbestand prüfen ✅", "ref": "zoë/fix"},
    )
    assert (change.environment, change.description, change.version) == (
        "prøduktion",
        "Lagerbestand prüfen ✅",
        "zoë/fix",
    )
