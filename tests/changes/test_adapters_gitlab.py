"""The GitLab adapter: every GitLab fixture, and the bodies it must refuse or skip."""

import json
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import gitlab
from changes.adapters.base import CanonicalChange
from common.payloads import Ignored, PayloadInvalid
from common.times import parse_timestamp
from tests.fixtures import fixture_names, load_fixture


def delivery(
    name: str, changes: dict[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and headers, with each dotted path in `changes` set anew."""
    fixture = load_fixture("gitlab", name)
    body = json.loads(fixture["body"])
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        target[last] = value
    return body, CaseInsensitiveMapping(fixture["headers"])


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return gitlab.to_canonical(*delivery(name, changes))


def refusal(body: Any, headers: CaseInsensitiveMapping) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as invalid:
        gitlab.to_canonical(body, headers)
    return invalid.value


def ignored(name: str, changes: dict[str, Any] | None = None) -> Ignored:
    with pytest.raises(Ignored) as skipped:
        convert(name, changes)
    return skipped.value


def without_header(headers: CaseInsensitiveMapping, dropped: str) -> CaseInsensitiveMapping:
    return CaseInsensitiveMapping(
        {name: value for name, value in headers.items() if name.lower() != dropped.lower()}
    )


@pytest.mark.parametrize("name", fixture_names("gitlab"))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture("gitlab", name)
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


@pytest.mark.parametrize("body", [[], "deployment", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = delivery("deployment_hook_success")
    assert refusal(body, headers).field_name == "body"


def test_the_event_header_is_required():
    body, headers = delivery("deployment_hook_success")
    invalid = refusal(body, without_header(headers, "X-Gitlab-Event"))
    assert invalid.field_name == "X-Gitlab-Event"


def test_an_event_type_not_used_is_ignored():
    body, headers = delivery("deployment_hook_success")
    headers = CaseInsensitiveMapping({**headers, "X-Gitlab-Event": "Push Hook"})
    with pytest.raises(Ignored) as skipped:
        gitlab.to_canonical(body, headers)
    assert (skipped.value.reason, skipped.value.event_type) == (
        "event type not used: Push Hook",
        "Push Hook",
    )


def test_without_an_event_uuid_the_key_is_left_to_the_idempotency_key_header():
    body, headers = delivery("deployment_hook_success")
    change = gitlab.to_canonical(body, without_header(headers, "X-Gitlab-Event-UUID"))
    assert change.idempotency_key == ""


def test_a_missing_project_name_is_named():
    body, headers = delivery("pipeline_hook_success_default_branch")
    del body["project"]["name"]
    assert refusal(body, headers).field_name == "project.name"


def test_a_project_that_is_not_an_object_is_named():
    body, headers = delivery("deployment_hook_success", {"project": "inventory-service"})
    assert refusal(body, headers).fields == {"project": ["Expected an object, got a string."]}


def test_a_status_that_is_not_text_is_named():
    body, headers = delivery("deployment_hook_success", {"status": ["success"]})
    assert refusal(body, headers).field_name == "status"


def test_an_unreadable_time_is_named():
    body, headers = delivery("deployment_hook_success", {"status_changed_at": "yesterday"})
    assert refusal(body, headers).field_name == "status_changed_at"


def test_a_running_deployment_has_started():
    assert convert("deployment_hook_success", {"status": "running"}).outcome == "started"


@pytest.mark.parametrize("status", ["created", "canceled"])
def test_a_deployment_that_changed_nothing_is_ignored(status):
    skipped = ignored("deployment_hook_success", {"status": status})
    assert (skipped.reason, skipped.event_type) == (
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
        ({"object_attributes.status": "running"}, "pipeline status not recorded: running"),
        ({"object_attributes.status": "canceled"}, "pipeline status not recorded: canceled"),
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
    skipped = ignored("pipeline_hook_success_default_branch", changes)
    assert (skipped.reason, skipped.event_type) == (reason, "Pipeline Hook")


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
