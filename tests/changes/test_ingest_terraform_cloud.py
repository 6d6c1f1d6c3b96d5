"""HCP Terraform run notifications through the real endpoint: the signature, the key in the
path, replays, a run's lifecycle (applying, then completed or errored, in either order), and the
setup snippet."""

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.template.loader import render_to_string

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.endpoints import ingest_url
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db

PRODUCER = "terraform_cloud"
SIGNATURE = "X-TFE-Notification-Signature"
URL = f"/api/v1/pipelines/{KEY}/events"
APPLYING_AT = "2026-11-20T14:01:02.000Z"


def sign(body: str) -> str:
    """X-TFE-Notification-Signature: hex HMAC-SHA512 of the body with the pipeline's secret."""
    return hmac.new(b"test-secret", body.encode(), hashlib.sha512).hexdigest()


def run_notification(trigger: str, run_status: str, at: str, message: str) -> str:
    """run_applied's body with another notification, compact as HCP Terraform writes it."""
    body = json.loads(load_fixture(PRODUCER, "run_applied")["body"])
    body["notifications"] = [
        {
            "message": message,
            "trigger": trigger,
            "run_status": run_status,
            "run_updated_at": at,
            "run_updated_by": None,
        }
    ]
    return json.dumps(body, separators=(",", ":"))


def post_signed(client: Any, body: str, *, url: str = URL, **headers: str) -> Any:
    return post_raw(
        client, url, body, {"Content-Type": "application/json", SIGNATURE: sign(body), **headers}
    )


def post_named(client: Any, name: str) -> Any:
    return post_fixture(client, PRODUCER, load_fixture(PRODUCER, name))


def applying() -> str:
    return run_notification("run:applying", "applying", APPLYING_AT, "Run Applying")


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not ChangeEvent.objects.exists()


def test_a_signed_applied_run_is_recorded(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_named(client, "run_applied")

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    assert (change.pipeline, change.kind, change.outcome, change.identity) == (
        pipeline,
        "infrastructure",
        "succeeded",
        "run:run-8sFk2LpQz4VwN1xJ",
    )


def test_a_signature_made_with_another_secret_is_refused(client):
    pipeline_for(PRODUCER)
    assert_refused(post_named(client, "bad_signature"), 401, "bad_signature")
    assert Delivery.objects.get().outcome == "rejected"


def test_a_missing_signature_is_refused(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, "run_applied")
    unsigned = {**fixture, "headers": {"Content-Type": "application/json"}}
    response = post_fixture(client, PRODUCER, unsigned)

    assert_refused(response, 401, "signature_required")
    assert SIGNATURE in response.json()["message"]


def test_a_tampered_body_or_another_digest_is_refused(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, "run_applied")
    tampered = {**fixture, "body": fixture["body"].replace("j.meyer", "mallory")}
    sha256 = hmac.new(b"test-secret", fixture["body"].encode(), hashlib.sha256).hexdigest()
    other_digest = {**fixture, "headers": {**fixture["headers"], SIGNATURE: sha256}}

    assert_refused(post_fixture(client, PRODUCER, tampered), 401, "bad_signature")
    assert_refused(post_fixture(client, PRODUCER, other_digest), 401, "bad_signature")


def test_the_verification_needs_the_signature_too(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, "verification_ignored")
    unsigned = {**fixture, "headers": {"Content-Type": "application/json"}}
    assert_refused(post_fixture(client, PRODUCER, unsigned), 401, "signature_required")


def test_the_signed_verification_gets_a_2xx_and_is_logged_as_ignored(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_named(client, "verification_ignored")

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "verification"}
    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.outcome, delivery.reason, delivery.event_type) == (
        "ignored",
        "verification",
        "verification",
    )
    assert not ChangeEvent.objects.exists()


def test_the_documented_verification_sample_is_not_json(client):
    # The docs' sample has a trailing comma after run_updated_by; HCP Terraform itself sends
    # valid JSON (the fixture). A body that is not JSON is refused, signed or not.
    pipeline_for(PRODUCER)
    body = load_fixture(PRODUCER, "verification_ignored")["body"].replace(
        '"run_updated_by":null}', '"run_updated_by":null,}'
    )
    assert_refused(post_signed(client, body), 400, "malformed_json")


def test_a_wrong_or_missing_key_in_the_path_is_refused(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, "run_applied")

    wrong = post_fixture(client, PRODUCER, fixture, key="not-the-key")
    # Without the key in the path, only the header-keyed endpoint is left: no header, no key.
    missing = post_raw(client, "/api/v1/changes", fixture["body"], fixture["headers"])

    assert_refused(wrong, 401, "unknown_key")
    assert_refused(missing, 401, "unknown_key")
    assert not Delivery.objects.exists()


def test_the_key_may_also_come_as_a_bearer_header_on_the_changes_endpoint(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, "run_applied")
    headers = {**fixture["headers"], "Authorization": f"Bearer {KEY}"}
    response = post_raw(client, "/api/v1/changes", fixture["body"], headers)

    assert response.status_code == 202
    assert ChangeEvent.objects.get().outcome == "succeeded"


def test_a_replayed_notification_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    first = post_named(client, "run_applied")
    again = post_named(client, "run_applied")

    assert again.status_code == 202
    assert again.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1
    assert len(ChangeEvent.objects.get().transitions) == 1


def test_applying_then_completed_make_one_change(client):
    pipeline_for(PRODUCER)
    started = post_signed(client, applying())
    finished = post_named(client, "run_applied")

    change = ChangeEvent.objects.get()
    assert started.json() == {"id": change.pk, "status": "recorded"}
    assert finished.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == "succeeded"
    assert change.started_at == parse_timestamp(APPLYING_AT)
    assert change.occurred_at == change.finished_at == parse_timestamp("2026-11-20T14:03:26Z")
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


def test_completed_then_a_late_applying_make_the_same_finished_change(client):
    pipeline_for(PRODUCER)
    post_named(client, "run_applied")
    late = post_signed(client, applying())

    change = ChangeEvent.objects.get()
    assert late.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == "succeeded"
    assert change.started_at == parse_timestamp(APPLYING_AT)
    assert change.finished_at == parse_timestamp("2026-11-20T14:03:26Z")


def test_a_run_canceled_while_applying_ends_cancelled(client):
    pipeline_for(PRODUCER)
    post_signed(client, applying())
    canceled = run_notification(
        "run:errored", "canceled", "2026-11-20T14:02:00.000Z", "Run Canceled"
    )
    response = post_signed(client, canceled)

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "updated"}
    assert (change.outcome, change.finished_at) == (
        "cancelled",
        parse_timestamp("2026-11-20T14:02:00Z"),
    )


def test_the_plan_of_a_run_is_ignored_and_leaves_its_change_alone(client):
    pipeline = pipeline_for(PRODUCER)
    post_named(client, "run_applied")
    planning = post_named(client, "run_planning_ignored")

    assert planning.json() == {
        "status": "ignored",
        "reason": "trigger run:planning: the run has changed nothing yet",
    }
    change = ChangeEvent.objects.get()
    assert (change.outcome, len(change.transitions)) == ("succeeded", 1)
    assert Delivery.objects.filter(pipeline=pipeline, outcome="ignored").count() == 1


def test_a_run_that_planned_no_changes_is_ignored(client):
    pipeline_for(PRODUCER)
    body = run_notification(
        "run:completed",
        "planned_and_finished",
        "2026-11-20T14:03:26.000Z",
        "Run Planned and Finished",
    )
    response = post_signed(client, body)

    assert response.status_code == 200
    assert response.json()["reason"] == (
        "trigger run:completed with run_status planned_and_finished: the run applied nothing"
    )
    assert not ChangeEvent.objects.exists()


def test_the_workspace_name_resolves_through_aliases(client):
    postgres = ComponentFactory(name="postgres-main")
    ComponentAliasFactory(component=postgres, name="postgres-main-prod")
    pipeline_for(PRODUCER)
    post_named(client, "run_applied")

    change = ChangeEvent.objects.get()
    assert (change.component, change.resolved_component) == ("postgres-main-prod", postgres)


def test_a_signed_body_without_a_workspace_is_refused_naming_it(client):
    pipeline_for(PRODUCER)
    body = json.loads(load_fixture(PRODUCER, "run_applied")["body"])
    del body["workspace_name"]
    response = post_signed(client, json.dumps(body, separators=(",", ":")))

    assert_refused(response, 400, "invalid")
    assert "workspace_name" in response.json()["fields"]


def test_the_snippet_is_the_tfe_notification_configuration_with_url_and_token(client):
    pipeline = pipeline_for(PRODUCER)
    url = ingest_url(pipeline, KEY)
    shown = render_to_string(
        "pipelines/snippets/pipelines-terraform_cloud.html",
        {"url": url, "secret": "s3cret-signing-token", "key": KEY},
    )
    assert 'resource "tfe_notification_configuration"' in shown
    assert 'destination_type = "generic"' in shown
    assert f'url              = "{url}"' in shown
    assert 'token            = "s3cret-signing-token"' in shown
    assert '["run:applying", "run:completed", "run:errored"]' in shown
    assert f"/api/v1/pipelines/{KEY}/events" in url

    hidden = render_to_string(
        "pipelines/snippets/pipelines-terraform_cloud.html",
        {"url": ingest_url(pipeline, None), "secret": ""},
    )
    assert "token            = var.whatchanged_signing_secret" in hidden
    # Autoescaped: the placeholder for the key shown once is text, not markup.
    assert "/api/v1/pipelines/&lt;integration-key&gt;/events" in hidden
