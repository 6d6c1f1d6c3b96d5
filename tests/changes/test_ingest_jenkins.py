"""Jenkins Notification plugin builds through the real endpoint: the key in the path (or a
bearer header), replays, a build's lifecycle (STARTED, COMPLETED, FINALIZED, in either order),
Gson's escapes, the noise filters, and the setup snippet."""

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

PRODUCER = "jenkins"
STARTED, COMPLETED, FINALIZED = (
    "build_started",
    "build_completed_success",
    "build_finalized_failure",
)
HEADERS = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": "Java/21.0.9"}


def post_named(client: Any, name: str, **kwargs: Any) -> Any:
    return post_fixture(client, PRODUCER, load_fixture(PRODUCER, name), **kwargs)


def post_build(client: Any, name: str, **build: Any) -> Any:
    """A fixture's body with fields of its `build` set anew, compact as Gson writes it."""
    body = json.loads(load_fixture(PRODUCER, name)["body"])
    body["build"].update(build)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return post_raw(client, f"/api/v1/pipelines/{KEY}/events", raw, HEADERS)


def test_the_key_in_the_path_is_all_the_plugin_needs(client):
    pipeline = pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, COMPLETED)
    assert "Authorization" not in fixture["headers"]

    response = post_named(client, COMPLETED)

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    assert (change.pipeline, change.identity) == (pipeline, "build:job/deploy/job/checkout-api/482")


def test_a_wrong_key_in_the_path_is_refused(client):
    pipeline_for(PRODUCER)
    response = post_named(client, COMPLETED, key="not-the-key")

    assert response.status_code == 401
    assert response.json()["code"] == "unknown_key"
    assert not ChangeEvent.objects.exists() and not Delivery.objects.exists()


def test_without_a_key_in_the_path_or_a_header_it_is_refused(client):
    pipeline_for(PRODUCER)
    response = post_raw(
        client, "/api/v1/changes", load_fixture(PRODUCER, COMPLETED)["body"], HEADERS
    )

    assert response.status_code == 401
    assert not ChangeEvent.objects.exists()


def test_a_script_may_send_the_key_as_a_bearer_header_instead(client):
    pipeline_for(PRODUCER)
    headers = {**HEADERS, "Authorization": f"Bearer {KEY}"}
    response = post_raw(
        client, "/api/v1/changes", load_fixture(PRODUCER, COMPLETED)["body"], headers
    )

    assert response.status_code == 202
    assert ChangeEvent.objects.get().outcome == "succeeded"


def test_a_replayed_notification_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    first = post_named(client, COMPLETED)
    again = post_named(client, COMPLETED)

    assert again.status_code == 202
    assert again.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1


def test_started_then_completed_make_one_change(client):
    pipeline_for(PRODUCER)
    started = post_named(client, STARTED)
    finished = post_named(client, COMPLETED)

    change = ChangeEvent.objects.get()
    assert started.json() == {"id": change.pk, "status": "recorded"}
    assert finished.json() == {"id": change.pk, "status": "updated"}
    expect = load_fixture(PRODUCER, COMPLETED)["expect"]
    assert change.outcome == change.status == "succeeded"
    assert change.started_at == parse_timestamp(expect["started_at"])
    assert change.occurred_at == change.finished_at == parse_timestamp(expect["occurred_at"])
    # STARTED comes before the checkout: COMPLETED fills in the branch and the commit.
    assert (change.version, change.commit) == (expect["version"], expect["commit"])
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


def test_completed_then_a_late_start_make_the_same_finished_change(client):
    pipeline_for(PRODUCER)
    post_named(client, COMPLETED)
    late = post_named(client, STARTED)

    change = ChangeEvent.objects.get()
    assert late.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == "succeeded"
    assert change.started_at == parse_timestamp("2026-11-20T14:20:05.117Z")
    assert change.finished_at == parse_timestamp("2026-11-20T14:26:40.321Z")
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


def test_finalized_after_completed_with_the_same_status_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    post_named(client, STARTED)
    completed = post_named(client, COMPLETED)
    finalized = post_build(client, COMPLETED, phase="FINALIZED", timestamp=1795184801950)

    change = ChangeEvent.objects.get()
    assert finalized.json() == {"id": completed.json()["id"], "status": "duplicate"}
    assert change.finished_at == parse_timestamp("2026-11-20T14:26:40.321Z")
    assert len(change.transitions) == 2


def test_a_started_build_that_finalizes_failed_ends_failed(client):
    pipeline_for(PRODUCER)
    post_build(client, FINALIZED, phase="STARTED", timestamp=1795184780000, duration=0, status=None)
    response = post_named(client, FINALIZED)

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "updated"}
    assert (change.outcome, change.environment) == ("failed", "staging")
    assert change.started_at == parse_timestamp("2026-11-20T14:26:20Z")


def test_another_build_of_the_same_job_is_another_change(client):
    pipeline_for(PRODUCER)
    post_named(client, COMPLETED)
    post_build(client, COMPLETED, number=483, timestamp=1795185000000)

    assert ChangeEvent.objects.count() == 2


def test_a_queued_build_is_ignored_with_its_reason(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_build(client, STARTED, phase="QUEUED")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ignored",
        "reason": "phase QUEUED: the build has not started yet",
    }
    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.outcome, delivery.event_type) == ("ignored", "QUEUED")
    assert not ChangeEvent.objects.exists()


def test_gsons_escapes_arrive_as_the_characters_they_stand_for(client):
    pipeline_for(PRODUCER)
    raw = load_fixture(PRODUCER, COMPLETED)["body"].replace(
        '"notes":""', '"notes":"image.tag\\u003dv2.14.0 \\u003c\\u0026\\u003e \\u0027ok\\u0027"'
    )
    response = post_raw(client, f"/api/v1/pipelines/{KEY}/events", raw, HEADERS)

    assert response.status_code == 202
    assert ChangeEvent.objects.get().description == "image.tag=v2.14.0 <&> 'ok'"


def test_a_component_parameter_resolves_through_aliases(client):
    checkout = ComponentFactory(name="checkout")
    ComponentAliasFactory(component=checkout, name="checkout-web")
    pipeline_for(PRODUCER)
    post_build(
        client, COMPLETED, parameters={"ENVIRONMENT": "production", "COMPONENT": "Checkout-Web"}
    )

    change = ChangeEvent.objects.get()
    assert (change.component, change.resolved_component) == ("checkout-web", checkout)


def test_a_branch_filter_reads_the_branch_without_its_remote(client):
    pipeline_for(PRODUCER, branches=["main"])
    post_named(client, STARTED)  # no branch yet: not filtered
    post_named(client, COMPLETED)  # origin/main
    other = post_build(client, COMPLETED, number=490, scm={"branch": "origin/feature/x"})

    change = ChangeEvent.objects.get()
    assert (change.outcome, change.version) == ("succeeded", "origin/main")
    assert other.json()["status"] == "ignored"
    assert other.json()["reason"].startswith("branch feature/x is not one of")


def test_an_environment_filter_reads_the_environment_parameter(client):
    pipeline_for(PRODUCER, environments=["production"])
    staging = post_named(client, FINALIZED)
    production = post_named(client, COMPLETED)

    assert staging.status_code == 200 and production.status_code == 202
    assert ChangeEvent.objects.get().environment == "production"


def test_the_snippet_is_the_plugins_endpoint_with_the_key_in_the_url():
    pipeline = pipeline_for(PRODUCER)
    url = ingest_url(pipeline, KEY)
    shown = render_to_string("pipelines/snippets/pipelines-jenkins.html", {"url": url, "key": KEY})

    assert f"/api/v1/pipelines/{KEY}/events" in url
    assert f"urlInfo: [urlType: 'PUBLIC', urlOrId: '{url}']" in shown
    assert "protocol: 'HTTP', format: 'JSON', event: 'all'" in shown
    assert "string(name: 'ENVIRONMENT'" in shown and "string(name: 'COMPONENT'" in shown
    assert "properties([" in shown

    hidden = render_to_string(
        "pipelines/snippets/pipelines-jenkins.html", {"url": ingest_url(pipeline, None)}
    )
    # Autoescaped: the placeholder for the key shown once is text, not markup.
    assert "/api/v1/pipelines/&lt;integration-key&gt;/events" in hidden
