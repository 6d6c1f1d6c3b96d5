"""The GitHub adapter: every GitHub fixture, and the bodies it must refuse or skip."""

import json
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import github
from changes.adapters.base import CanonicalChange
from common.payloads import Ignored, PayloadInvalid
from common.times import parse_timestamp
from tests.fixtures import fixture_names, load_fixture


def delivery(
    name: str, changes: dict[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and headers, with each dotted path in `changes` set anew."""
    fixture = load_fixture("github", name)
    body = json.loads(fixture["body"])
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        target[last] = value
    return body, CaseInsensitiveMapping(fixture["headers"])


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return github.to_canonical(*delivery(name, changes))


def refusal(body: Any, headers: CaseInsensitiveMapping) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as invalid:
        github.to_canonical(body, headers)
    return invalid.value


def ignored(name: str, changes: dict[str, Any] | None = None) -> Ignored:
    with pytest.raises(Ignored) as skipped:
        convert(name, changes)
    return skipped.value


def without_header(headers: CaseInsensitiveMapping, dropped: str) -> CaseInsensitiveMapping:
    return CaseInsensitiveMapping(
        {name: value for name, value in headers.items() if name.lower() != dropped.lower()}
    )


@pytest.mark.parametrize("name", fixture_names("github"))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture("github", name)
    expect = fixture["expect"]
    if expect["action"] == "ignore":
        assert ignored(name).reason == expect["reason"]
        return
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


@pytest.mark.parametrize("body", [[], "push", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = delivery("push_default_branch")
    assert refusal(body, headers).field_name == "body"


def test_the_event_header_is_required():
    body, headers = delivery("push_default_branch")
    assert refusal(body, without_header(headers, "X-GitHub-Event")).field_name == "X-GitHub-Event"


def test_without_a_delivery_id_the_key_is_left_to_the_idempotency_key_header():
    body, headers = delivery("push_default_branch")
    change = github.to_canonical(body, without_header(headers, "X-GitHub-Delivery"))
    assert change.idempotency_key == ""


def test_a_missing_repository_name_is_named():
    body, headers = delivery("deployment_status_success")
    del body["repository"]["name"]
    assert refusal(body, headers).field_name == "repository.name"


def test_a_deployment_status_that_is_not_an_object_is_named():
    body, headers = delivery("deployment_status_success", {"deployment_status": "success"})
    assert refusal(body, headers).fields == {
        "deployment_status": ["Expected an object, got a string."]
    }


def test_a_push_ref_must_be_a_string():
    assert refusal(*delivery("push_default_branch", {"ref": 7})).field_name == "ref"


def test_a_numeric_deployment_ref_is_read_as_text():
    assert convert("deployment_status_success", {"deployment.ref": 4}).version == "4"


def test_an_unreadable_time_is_named():
    body, headers = delivery("deployment_status_success", {"deployment_status.created_at": "now"})
    assert refusal(body, headers).field_name == "deployment_status.created_at"


@pytest.mark.parametrize("state", ["pending", "queued", "in_progress", "inactive"])
def test_a_deployment_that_has_not_ended_is_ignored(state):
    skipped = ignored("deployment_status_success", {"deployment_status.state": state})
    assert skipped.reason == f"deployment state not recorded: {state}"
    assert skipped.event_type == "deployment_status"


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
    skipped = ignored("push_default_branch", changes)
    assert (skipped.reason, skipped.event_type) == (reason, "push")


def test_a_push_carries_its_branch_for_noise_filters():
    change = convert("push_default_branch")
    assert (change.branch, change.event_type) == ("main", "push")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"action": "in_progress"}, "workflow run action not recorded: in_progress"),
        (
            {"workflow_run.conclusion": "cancelled"},
            "workflow run conclusion not recorded: cancelled",
        ),
    ],
)
def test_a_workflow_run_that_changed_nothing_is_ignored(changes, reason):
    assert ignored("workflow_run_completed_success", changes).reason == reason


def test_a_timed_out_workflow_run_is_a_failure():
    change = convert("workflow_run_completed_success", {"workflow_run.conclusion": "timed_out"})
    assert (change.outcome, change.branch) == ("failed", "main")


def test_a_release_that_is_not_published_is_ignored():
    skipped = ignored("release_published", {"action": "created"})
    assert skipped.reason == "release action not recorded: created"


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
