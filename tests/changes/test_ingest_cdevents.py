"""CDEvents through the real endpoints: the Bearer key (or the key in the path), redeliveries,
two reports of one rollout, and the setup snippet's own example."""

import html
import json
import re
from typing import Any

import pytest
from django.template.loader import render_to_string

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db

PRODUCER = "cdevents"
STRUCTURED = "service_deployed"
BINARY = "service_upgraded_binary_mode"
BARE = "service_rolledback"
ROLLOUT_ID = "8d2e6f1a-3b9c-4c70-a5e4-1f7b0d9c2e83"  # the binary fixture's context.id


def fixture(name: str) -> dict[str, Any]:
    return load_fixture(PRODUCER, name)


def cdevent(name: str) -> dict[str, Any]:
    """The fixture's CDEvent, wherever the fixture carries it."""
    body = json.loads(fixture(name)["body"])
    return body["data"] if name == STRUCTURED else body


def post_cdevent(client, body: dict[str, Any], key: str = KEY, **headers: str) -> Any:
    """A bare CDEvent, as a script posts it (nothing signs it: re-serialising is fine)."""
    return post_raw(
        client, "/api/v1/changes", json.dumps(body), {"Authorization": f"Bearer {key}", **headers}
    )


def another_report(name: str, *, event_id: str, timestamp: str) -> dict[str, Any]:
    """The same rollout as reported by another tool: its own event id and time."""
    body = cdevent(name)
    body["context"] = {**body["context"], "id": event_id, "source": "/deploy-script"}
    body["context"]["timestamp"] = timestamp
    return body


# --- Keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STRUCTURED, BINARY, BARE])
def test_a_missing_or_wrong_bearer_key_is_refused(client, name):
    pipeline_for(PRODUCER)
    headers = {k: v for k, v in fixture(name)["headers"].items() if k != "Authorization"}
    missing = post_raw(client, "/api/v1/changes", fixture(name)["body"], headers)
    wrong = post_fixture(client, PRODUCER, fixture(name), key="not-the-key-0123456789")

    for response in (missing, wrong):
        assert response.status_code == 401, response.content
        assert response.json()["code"] == "unknown_key"
        assert set(response.json()) == {"code", "message", "fields"}
    assert not ChangeEvent.objects.exists()


def test_a_basic_authorization_is_not_a_bearer_key(client):
    pipeline_for(PRODUCER)
    headers = {**fixture(BARE)["headers"], "Authorization": f"Basic {KEY}"}
    response = post_raw(client, "/api/v1/changes", fixture(BARE)["body"], headers)
    assert response.status_code == 401


def test_the_key_in_the_path_serves_sinks_that_send_no_headers(client):
    pipeline = pipeline_for(PRODUCER)
    headers = {k: v for k, v in fixture(BINARY)["headers"].items() if k != "Authorization"}

    accepted = post_raw(client, f"/api/v1/pipelines/{KEY}/events", fixture(BINARY)["body"], headers)
    refused = post_raw(
        client, "/api/v1/pipelines/wrong-key-0123456789/events", fixture(BINARY)["body"], headers
    )

    assert accepted.status_code == 202, accepted.content
    assert ChangeEvent.objects.get().pipeline == pipeline
    assert refused.status_code == 401


# --- Redeliveries -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STRUCTURED, BINARY, BARE])
def test_a_redelivery_is_a_duplicate(client, name):
    pipeline_for(PRODUCER)
    first = post_fixture(client, PRODUCER, fixture(name))
    again = post_fixture(client, PRODUCER, fixture(name))

    change = ChangeEvent.objects.get()
    assert first.json() == {"id": change.pk, "status": "recorded"}
    assert again.status_code == 202
    assert again.json() == {"id": change.pk, "status": "duplicate"}
    assert len(change.transitions) == 1


def test_one_event_sent_in_another_mode_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture(BINARY))
    structured = {
        "specversion": "1.0",
        "id": ROLLOUT_ID,
        "source": "/argo-rollouts/prod-eu-west-1",
        "type": "dev.cdevents.service.upgraded.0.2.0",
        "data": cdevent(BINARY),
    }
    response = post_cdevent(client, structured, **{"Content-Type": "application/cloudevents+json"})

    assert response.json() == {"id": ChangeEvent.objects.get().pk, "status": "duplicate"}


# --- One rollout, several reports ---------------------------------------------------------------


def test_two_reports_of_one_rollout_make_one_change(client):
    pipeline_for(PRODUCER)
    first = post_fixture(client, PRODUCER, fixture(BINARY))
    later = post_cdevent(
        client, another_report(BINARY, event_id="script-1", timestamp="2026-11-20T14:27:00Z")
    )

    change = ChangeEvent.objects.get()
    assert first.json() == {"id": change.pk, "status": "recorded"}
    assert later.json() == {"id": change.pk, "status": "updated"}
    assert (change.component, change.version, change.kind, change.outcome) == (
        "checkout-api",
        "v2.14.0",
        "deployment",
        "succeeded",
    )
    assert change.occurred_at == change.finished_at == parse_timestamp("2026-11-20T14:27:00Z")
    assert change.started_at == parse_timestamp("2026-11-20T14:26:03.118Z")
    assert [report.get("event_id") for report in change.transitions] == [ROLLOUT_ID, "script-1"]
    assert change.idempotency_key == ROLLOUT_ID
    assert Delivery.objects.filter(object_id=change.pk).count() == 2


def test_an_earlier_report_arriving_last_keeps_the_later_finish(client):
    pipeline_for(PRODUCER)
    post_cdevent(
        client, another_report(BINARY, event_id="script-1", timestamp="2026-11-20T14:27:00Z")
    )
    late = post_fixture(client, PRODUCER, fixture(BINARY))

    change = ChangeEvent.objects.get()
    assert late.json() == {"id": change.pk, "status": "updated"}
    assert change.occurred_at == change.finished_at == parse_timestamp("2026-11-20T14:27:00Z")
    assert change.started_at == parse_timestamp("2026-11-20T14:26:03.118Z")
    assert [report.get("event_id") for report in change.transitions] == [ROLLOUT_ID, "script-1"]


def test_a_report_replayed_after_another_is_still_a_duplicate(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture(BINARY))
    post_cdevent(
        client, another_report(BINARY, event_id="script-1", timestamp="2026-11-20T14:27:00Z")
    )
    again = post_fixture(client, PRODUCER, fixture(BINARY))

    change = ChangeEvent.objects.get()
    assert again.json() == {"id": change.pk, "status": "duplicate"}
    assert len(change.transitions) == 2


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("subject.content.environment.id", "staging"),
        ("subject.content.artifactId", "pkg:oci/checkout-api?tag=v2.15.0"),
        ("subject.id", "service/cart"),
    ],
)
def test_another_environment_artifact_or_service_is_another_change(client, path, value):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture(BINARY))
    body = another_report(BINARY, event_id="other-1", timestamp="2026-11-20T14:27:00Z")
    *parents, last = path.split(".")
    target = body
    for step in parents:
        target = target[step]
    target[last] = value

    assert post_cdevent(client, body).json()["status"] == "recorded"
    assert ChangeEvent.objects.count() == 2


def test_a_rollback_to_the_deployed_artifact_is_a_change_of_its_own(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture(BINARY))
    rollback = another_report(BINARY, event_id="rb-1", timestamp="2026-11-20T15:00:00Z")
    rollback["context"]["type"] = "dev.cdevents.service.rolledback.0.2.0"

    assert post_cdevent(client, rollback).json()["status"] == "recorded"
    assert sorted(ChangeEvent.objects.values_list("kind", flat=True)) == ["deployment", "rollback"]


# --- What is recorded, ignored, refused ---------------------------------------------------------


def test_a_removed_service_is_recorded(client):
    pipeline_for(PRODUCER)
    body = cdevent(BARE)
    body["context"]["type"] = "dev.cdevents.service.removed.0.2.0"
    del body["subject"]["content"]["artifactId"]

    response = post_cdevent(client, body)

    change = ChangeEvent.objects.get()
    assert response.status_code == 202
    assert (change.component, change.environment, change.kind, change.summary) == (
        "payments-service",
        "production",
        "deployment",
        "Removed payments-service from production",
    )


def test_an_event_type_not_used_is_logged_with_its_type(client):
    pipeline = pipeline_for(PRODUCER)
    body = cdevent(BARE)
    body["context"]["type"] = "dev.cdevents.taskrun.started.0.2.0"

    response = post_cdevent(client, body)

    reason = "event type not used: dev.cdevents.taskrun.started.0.2.0"
    assert (response.status_code, response.json()) == (200, {"status": "ignored", "reason": reason})
    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.outcome, delivery.reason, delivery.event_type) == (
        "ignored",
        reason,
        "dev.cdevents.taskrun.started",
    )
    assert not ChangeEvent.objects.exists()


def test_a_structured_event_without_a_subject_id_names_the_field(client):
    pipeline = pipeline_for(PRODUCER)
    body = json.loads(fixture(STRUCTURED)["body"])
    del body["data"]["subject"]["id"]

    response = post_cdevent(client, body, **{"Content-Type": "application/cloudevents+json"})

    assert response.status_code == 400
    assert response.json()["fields"] == {"data.subject.id": ["This field is required."]}
    assert Delivery.objects.get(pipeline=pipeline).outcome == "rejected"


def test_the_pipelines_environment_filter_applies(client):
    pipeline_for(PRODUCER, environments=["staging"])
    response = post_fixture(client, PRODUCER, fixture(STRUCTURED))
    assert response.json()["status"] == "ignored"
    assert "environment production" in response.json()["reason"]


def test_the_service_name_is_resolved_through_the_catalog_aliases(client):
    component = ComponentFactory(name="inventory")
    ComponentAliasFactory(component=component, name="inventory-service")
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture(STRUCTURED))
    assert ChangeEvent.objects.get().resolved_component == component


# --- The setup snippet --------------------------------------------------------------------------


def snippet(key: str) -> str:
    return render_to_string(
        "pipelines/snippets/pipelines-cdevents.html",
        {"url": "https://wc.example.com/api/v1/changes", "key": key, "secret": ""},
    )


def test_the_snippets_curl_records_a_deployment(client):
    pipeline_for(PRODUCER)
    page = snippet(KEY)
    curl = html.unescape(re.search(r'id="snippet-curl">(.*?)</pre>', page, re.DOTALL).group(1))
    assert curl.startswith("curl -fsS -X POST https://wc.example.com/api/v1/changes")
    assert f'-H "Authorization: Bearer {KEY}"' in curl
    # What the shell would send: the body between -d '...', with its substitutions done.
    body = curl.split("-d '", 1)[1].rsplit("'", 1)[0]
    body = body.replace('"\'"$(uuidgen)"\'"', '"6a1f0c2e-0000-4000-8000-000000000001"')
    body = body.replace('"\'"$(date -u +%FT%TZ)"\'"', '"2026-11-20T14:40:00Z"')

    response = post_cdevent(client, json.loads(body))

    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()
    assert (change.component, change.environment, change.version) == (
        "checkout-api",
        "production",
        "v2.14.0",
    )


def test_the_snippet_shows_both_urls_and_escapes_what_it_is_given():
    page = snippet("<b>key</b>")
    assert "Authorization: Bearer &lt;b&gt;key&lt;/b&gt;" in page
    assert "https://wc.example.com/api/v1/pipelines/&lt;b&gt;key&lt;/b&gt;/events" in page
    assert "<b>key</b>" not in page


def test_without_the_key_the_snippet_uses_a_variable():
    page = snippet("")
    assert "Authorization: Bearer $WHATCHANGED_KEY" in page
    assert "/api/v1/pipelines/$WHATCHANGED_KEY/events" in page
