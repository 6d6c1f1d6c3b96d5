"""A number, boolean, list or object where a change producer's format has a string is refused
with a 400 naming the field, never stored as its text (`"component": 4711`, an unquoted shell
variable, is not a component named "4711"). Every case goes through the real endpoint."""

import hashlib
import hmac
import json
from typing import Any

import pytest

from changes.models import ChangeEvent
from pipelines.models import Delivery
from tests.adapters import set_path
from tests.changes.ingest import KEY, PRODUCERS, pipeline_for, post_json, post_raw
from tests.fixtures import load_fixture

pytestmark = pytest.mark.django_db

# One value of each JSON type that is not a string, and how the error names that type.
WRONG_VALUES = {
    "number": (4711, "a number"),
    "boolean": (True, "a boolean"),
    "list": (["payments-service"], "a list"),
    "object": ({"name": "payments-service"}, "an object"),
}
WRONG = pytest.mark.parametrize("wrong", WRONG_VALUES)
# Every string field of the generic shape (ours and Alert24's two), metadata's included.
GENERIC_FIELDS = (
    "component",
    "service",
    "environment",
    "version",
    "summary",
    "description",
    "triggered_by",
    "changed_by",
    "commit",
    "commit_sha",
    "branch",
    "kind",
    "change_type",
    "outcome",
    "status",
    "metadata.environment",
    "metadata.version",
    "metadata.commit",
    "metadata.triggered_by",
    "metadata.branch",
)
# Producers that sign the body: (header, digest, prefix), to sign an edited body anew.
SIGNATURES = {
    "github": ("X-Hub-Signature-256", hashlib.sha256, "sha256="),
    "flux": ("X-Signature", hashlib.sha256, "sha256="),
    "terraform_cloud": ("X-TFE-Notification-Signature", hashlib.sha512, ""),
    "launchdarkly": ("X-LD-Signature", hashlib.sha256, ""),
    "flagsmith": ("X-Flagsmith-Signature", hashlib.sha256, ""),
}
# (producer, fixture, a field its format documents as a string); the fixture records a change
# as sent. The error names the field by its path in the body.
PRODUCER_FIELDS = [
    ("alert24", "github_actions_curl", "component"),
    ("alert24", "github_actions_curl", "triggered_by"),
    ("alert24", "github_actions_curl", "metadata.environment"),
    ("pagerduty_change", "deploy_script_change_event", "payload.summary"),
    ("pagerduty_change", "deploy_script_change_event", "payload.source"),
    ("ilert", "api_deployment_event_iso_timestamp", "summary"),
    ("ilert", "api_deployment_event_iso_timestamp", "userEmail"),
    ("github", "deployment_status_success", "repository.name"),
    ("github", "deployment_status_success", "deployment_status.environment"),
    ("github", "deployment_status_success", "deployment.ref"),
    ("github", "deployment_status_success", "deployment.creator.login"),
    ("github", "deployment_status_success", "deployment.sha"),
    ("github", "deployment_status_success", "deployment.description"),
    ("gitlab", "deployment_hook_success", "project.name"),
    ("gitlab", "deployment_hook_success", "environment"),
    ("gitlab", "deployment_hook_success", "ref"),
    ("gitlab", "deployment_hook_success", "user.username"),
    ("gitlab", "deployment_hook_success", "short_sha"),
    ("jenkins", "build_completed_success", "name"),
    ("jenkins", "build_completed_success", "build.parameters.ENVIRONMENT"),
    ("jenkins", "build_completed_success", "build.scm.commit"),
    ("argocd", "sync_succeeded", "app"),
    ("argocd", "sync_succeeded", "targetRevision"),
    ("argocd", "sync_succeeded", "revision"),
    ("argocd", "sync_succeeded", "message"),
    ("flux", "kustomization_reconciled", "involvedObject.name"),
    ("flux", "kustomization_reconciled", "metadata.env"),
    ("flux", "kustomization_reconciled", "metadata.revision"),
    ("cdevents", "service_deployed", "data.subject.id"),
    ("cdevents", "service_deployed", "data.subject.content.environment.id"),
    ("cdevents", "service_upgraded_binary_mode", "subject.id"),
    ("terraform_cloud", "run_applied", "workspace_name"),
    ("terraform_cloud", "run_applied", "run_created_by"),
    ("terraform_cloud", "run_applied", "run_message"),
    ("terraform_cloud", "run_applied", "notifications.0.message"),
    ("launchdarkly", "flag_turned_on", "member.email"),
    ("launchdarkly", "flag_turned_on", "_id"),
    ("flagsmith", "flag_updated", "data.new_state.feature.project.name"),
    ("flagsmith", "flag_updated", "data.new_state.environment.name"),
    ("flagsmith", "flag_updated", "data.changed_by"),
    ("unleash", "feature_environment_enabled", "environment"),
    ("unleash", "feature_environment_enabled", "createdBy"),
    ("unleash", "feature_environment_enabled", "featureName"),
    ("codepipeline", "pipeline_execution_succeeded", "detail.pipeline"),
    ("codepipeline", "pipeline_execution_succeeded", "detail.execution-trigger.author-id"),
    ("codepipeline", "pipeline_execution_succeeded", "detail.execution-trigger.commit-id"),
]


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with `value` at the dotted `path`, objects on the way made as needed."""
    target = body
    *parents, last = path.split(".")
    for step in parents:
        target = target.setdefault(step, {})
    target[last] = value
    return body


def assert_refused(response, field: str, json_type: str) -> None:
    """A 400 in the one error shape, naming `field` and what was sent instead of a string;
    nothing stored, and the delivery logged as rejected with the reason."""
    assert response.status_code == 400, response.content
    problem = f"Expected a string, got {json_type}."
    assert response.json() == {
        "code": "invalid",
        "message": f"{field}: {problem}",
        "fields": {field: [problem]},
    }
    assert not ChangeEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert (delivery.outcome, delivery.status_code) == ("rejected", 400)
    assert delivery.reason == f"{field}: {problem}"


def post_producer(client, producer: str, name: str, path: str, value: Any):
    """The producer's fixture with `value` at `path`, signed anew where the producer signs."""
    fixture = load_fixture(producer, name)
    body = json.loads(fixture["body"])
    set_path(body, path, value)
    raw = json.dumps(body).encode()
    headers = dict(fixture["headers"])
    if producer in SIGNATURES:
        header, digest, prefix = SIGNATURES[producer]
        headers = {name: v for name, v in headers.items() if name.lower() != header.lower()}
        headers[header] = prefix + hmac.new(KEY.encode(), raw, digest).hexdigest()
    return post_raw(client, PRODUCERS[producer][1].format(key=KEY), raw, headers)


@WRONG
@pytest.mark.parametrize("field", GENERIC_FIELDS)
def test_generic_string_fields_refuse_other_types(client, field, wrong):
    pipeline_for("alert24")
    value, json_type = WRONG_VALUES[wrong]
    # `service` is read only without a component, as Alert24's REST shape sends it.
    body = {"summary": "Deploy v1.2.3"} | ({} if field == "service" else {"component": "payments"})

    response = post_json(client, with_value(body, field, value))

    assert_refused(response, field, json_type)


def test_an_unquoted_shell_variable_is_not_a_component(client):
    pipeline_for("alert24")
    response = post_raw(
        client,
        "/api/v1/changes",
        '{"component": 4711, "environment": "production", "description": "Deploy"}',
        {"Authorization": f"Bearer {KEY}"},
    )
    assert_refused(response, "component", "a number")


def test_null_is_still_absent_and_unicode_text_still_fine(client):
    pipeline_for("alert24")
    body = {
        "component": "zahlungs-dienst-ü",
        "environment": None,
        "version": None,
        "summary": "Déploiement ✓ 東京 🚀",
        "triggered_by": "Zoë",
    }

    response = post_json(client, body)

    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()
    assert (change.component, change.environment, change.version) == ("zahlungs-dienst-ü", "", "")
    assert (change.summary, change.triggered_by) == ("Déploiement ✓ 東京 🚀", "Zoë")


def test_ids_may_still_be_numbers(client):
    """A rollout's id names nothing people read: a CI's run id sent unquoted is the same id."""
    pipeline_for("alert24")
    first = post_json(client, {"component": "payments", "deployment_id": 981, "outcome": "started"})
    second = post_json(client, {"component": "payments", "deployment_id": "981"})

    assert (first.status_code, second.status_code) == (202, 202), second.content
    assert second.json() == {"id": first.json()["id"], "status": "updated"}


def test_a_batch_names_each_wrong_type_by_index_and_keeps_the_valid_changes(client):
    pipeline_for("alert24")
    changes = [
        {"component": "payments", "summary": "Deploy v1"},
        {"component": 4711, "summary": "Deploy v2"},
        {"component": "search", "summary": "Deploy v3"},
        {"component": "search", "summary": "Deploy v4", "environment": True},
        {"component": "search", "summary": ["Deploy v5"]},
    ]

    response = post_raw(
        client,
        "/api/v1/changes/batch",
        json.dumps({"changes": changes}),
        {"Authorization": f"Bearer {KEY}"},
    )

    assert response.status_code == 202, response.content
    answer = response.json()
    assert [result["status"] for result in answer["results"]] == [
        "recorded",
        "invalid",
        "recorded",
        "invalid",
        "invalid",
    ]
    assert [result.get("errors") for result in answer["results"]] == [
        None,
        {"changes.1.component": ["Expected a string, got a number."]},
        None,
        {"changes.3.environment": ["Expected a string, got a boolean."]},
        {"changes.4.summary": ["Expected a string, got a list."]},
    ]
    assert (answer["recorded"], answer["invalid"]) == (2, 3)
    assert sorted(ChangeEvent.objects.values_list("summary", flat=True)) == [
        "Deploy v1",
        "Deploy v3",
    ]
    assert "changes.1.component: Expected a string, got a number." in Delivery.objects.get().reason


def test_a_batch_of_only_wrong_types_is_refused_naming_each(client):
    pipeline_for("alert24")
    changes = [{"component": 4711, "summary": "Deploy"}, {"component": "x", "version": 2.5}]

    response = post_raw(
        client, "/api/v1/changes/batch", json.dumps(changes), {"Authorization": f"Bearer {KEY}"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {
        "changes.0.component": ["Expected a string, got a number."],
        "changes.1.version": ["Expected a string, got a number."],
    }
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get().outcome == "rejected"


@WRONG
@pytest.mark.parametrize(("producer", "name", "field"), PRODUCER_FIELDS)
def test_producers_string_fields_refuse_other_types(client, producer, name, field, wrong):
    pipeline_for(producer)
    value, json_type = WRONG_VALUES[wrong]

    response = post_producer(client, producer, name, field, value)

    assert_refused(response, field, json_type)


@pytest.mark.parametrize(("producer", "name", "field"), PRODUCER_FIELDS)
def test_producers_string_fields_take_unicode(client, producer, name, field):
    """The same requests with a string in the field, accents and all, are recorded."""
    pipeline_for(producer)

    response = post_producer(client, producer, name, field, "zoë-東京")

    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("producer", "name", "details", "field"),
    [
        ("pagerduty_change", "deploy_script_change_event", "payload.custom_details", "environment"),
        ("ilert", "api_deployment_event_iso_timestamp", "customDetails", "service"),
        ("ilert", "api_deployment_event_iso_timestamp", "customDetails", "version"),
    ],
)
def test_free_form_details_that_are_not_strings_are_metadata_not_fields(
    client, producer, name, details, field
):
    """custom_details (PagerDuty) and customDetails (ilert) are free-form objects their
    producers take whatever holds: a number there fills none of our fields, it is kept."""
    pipeline_for(producer)

    response = post_producer(client, producer, name, f"{details}.{field}", 4711)

    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()
    assert "4711" not in (change.component, change.environment, change.version)
    assert change.metadata[field] == 4711
