"""Argo CD through the real endpoint: the bearer key, replays, one sync operation reported as
running and then succeeded or failed (in either order), health notifications, and the snippet
whose template renders the bodies."""

import html
import json
import re
from typing import Any

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines import services
from pipelines.models import Delivery, DeploymentPipeline
from pipelines.views import SHOWN_ONCE
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture
from tests.settings_actors import cast

pytestmark = pytest.mark.django_db

PRODUCER = "argocd"
SUCCEEDED = "sync_succeeded"
FAILED = "sync_failed"
STARTED_AT = "2026-11-20T14:08:51Z"
FINISHED_AT = "2026-11-20T14:09:12Z"


def report(name: str = SUCCEEDED, **changes: Any) -> dict[str, Any]:
    """A fixture request whose body, as our template renders it, has `changes` applied."""
    fixture = load_fixture(PRODUCER, name)
    body = json.loads(fixture["body"])
    body.update(changes)
    return {**fixture, "body": json.dumps(body, indent=2) + "\n"}


def running(name: str = SUCCEEDED) -> dict[str, Any]:
    return report(name, trigger="on-sync-running", phase="Running", finishedAt="", message="")


def post(client: Client, request: dict[str, Any]) -> Any:
    return post_fixture(client, PRODUCER, request)


# --- The key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key-0123456789", "Bearer", "Basic dGVzdC1zZWNyZXQ=", "test-secret"],
    ids=["missing", "wrong", "empty", "basic", "no-scheme"],
)
def test_a_missing_or_wrong_key_is_refused(client, authorization):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, SUCCEEDED)
    headers = {k: v for k, v in fixture["headers"].items() if k != "Authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = post_raw(client, "/api/v1/changes", fixture["body"], headers)

    assert response.status_code == 401, response.content
    assert response.json()["code"] == "unknown_key"
    assert not ChangeEvent.objects.exists() and not Delivery.objects.exists()


def test_the_bearer_key_is_all_argo_cd_sends(client):
    pipeline = pipeline_for(PRODUCER)
    response = post(client, load_fixture(PRODUCER, SUCCEEDED))
    assert response.status_code == 202
    assert ChangeEvent.objects.get().pipeline == pipeline


def test_the_key_in_the_path_works_too(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, SUCCEEDED)
    headers = {k: v for k, v in fixture["headers"].items() if k != "Authorization"}
    response = post_raw(client, f"/api/v1/pipelines/{KEY}/events", fixture["body"], headers)
    assert response.status_code == 202


# --- Replays ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [SUCCEEDED, FAILED])
def test_a_replayed_report_is_a_duplicate(client, name):
    pipeline = pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, name)
    first = post(client, fixture)
    again = post(client, fixture)

    change = ChangeEvent.objects.get()
    assert first.json() == {"id": change.pk, "status": "recorded"}
    assert again.status_code == 202
    assert again.json() == {"id": change.pk, "status": "duplicate"}
    assert len(change.transitions) == 1
    assert Delivery.objects.filter(pipeline=pipeline, object_id=change.pk).count() == 2


# --- One sync operation -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "outcome"), [(SUCCEEDED, "succeeded"), (FAILED, "failed")])
def test_running_then_finished_make_one_change(client, name, outcome):
    pipeline_for(PRODUCER)
    started = post(client, running(name))
    finished = post(client, load_fixture(PRODUCER, name))

    change = ChangeEvent.objects.get()
    expect = load_fixture(PRODUCER, name)["expect"]
    assert started.json() == {"id": change.pk, "status": "recorded"}
    assert finished.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == change.status == outcome
    start = json.loads(load_fixture(PRODUCER, name)["body"])["startedAt"]
    assert change.started_at == parse_timestamp(start)
    assert change.finished_at == change.occurred_at == parse_timestamp(expect["occurred_at"])
    assert [report["outcome"] for report in change.transitions] == ["started", outcome]
    assert (change.commit, change.version) == (expect["commit"], "main")


def test_a_running_sync_is_rolling_out(client):
    pipeline_for(PRODUCER)
    post(client, running())

    change = ChangeEvent.objects.get()
    assert (change.status, change.finished_at, change.is_running) == ("started", None, True)
    assert change.started_at == change.occurred_at == parse_timestamp(STARTED_AT)


def test_a_finish_then_its_late_start_make_the_same_change(client):
    pipeline_for(PRODUCER)
    post(client, load_fixture(PRODUCER, SUCCEEDED))
    late = post(client, running())

    change = ChangeEvent.objects.get()
    assert late.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == "succeeded"  # never turned back to running
    assert change.occurred_at == change.finished_at == parse_timestamp(FINISHED_AT)
    assert change.started_at == parse_timestamp(STARTED_AT)
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


def test_deployed_after_succeeded_updates_the_same_change(client):
    pipeline_for(PRODUCER)
    post(client, load_fixture(PRODUCER, SUCCEEDED))
    deployed = post(client, report(trigger="on-deployed", health="Healthy"))

    change = ChangeEvent.objects.get()
    assert deployed.json() == {"id": change.pk, "status": "updated"}
    assert (change.outcome, change.metadata["health"]) == ("succeeded", "Healthy")
    assert change.finished_at == parse_timestamp(FINISHED_AT)


def test_the_next_sync_of_the_app_is_another_change(client):
    pipeline_for(PRODUCER)
    post(client, load_fixture(PRODUCER, SUCCEEDED))
    later = post(
        client,
        report(
            startedAt="2026-11-20T14:30:00Z",
            finishedAt="2026-11-20T14:30:20Z",
            revision="0" * 40,
        ),
    )

    assert later.json()["status"] == "recorded"
    assert ChangeEvent.objects.count() == 2


def test_a_health_notification_changes_nothing(client):
    pipeline = pipeline_for(PRODUCER)
    post(client, load_fixture(PRODUCER, SUCCEEDED))
    degraded = report(trigger="on-health-degraded", health="Degraded")
    response = post(client, degraded)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ignored",
        "reason": "trigger on-health-degraded: a health change, not a sync",
    }
    change = ChangeEvent.objects.get()
    assert (change.outcome, change.metadata["health"]) == ("succeeded", "Progressing")
    delivery = Delivery.objects.filter(pipeline=pipeline).latest("id")
    assert (delivery.outcome, delivery.event_type) == ("ignored", "on-health-degraded")


def test_a_body_that_is_not_our_template_is_400_naming_the_field(client):
    pipeline_for(PRODUCER)
    # A catalog template routed to the webhook without a body of ours: Argo CD's message.
    fixture = load_fixture(PRODUCER, SUCCEEDED)
    response = post(client, {**fixture, "body": json.dumps({"message": "Application synced"})})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["app"]


def test_a_noise_filter_on_the_event_type_applies(client):
    pipeline_for(PRODUCER, event_types=["on-sync-succeeded", "on-sync-failed"])
    assert post(client, running()).json()["status"] == "ignored"
    assert post(client, load_fixture(PRODUCER, SUCCEEDED)).json()["status"] == "recorded"


# --- The setup snippet --------------------------------------------------------------------------


def snippet(page: str, name: str) -> str:
    block = re.search(rf'<pre class="snippet" id="snippet-{name}">(.*?)</pre>', page, re.DOTALL)
    assert block, f"the {name} snippet is on the page"
    return html.unescape(block.group(1))


def render_like_argo_cd(body_template: str, app: dict[str, Any]) -> str:
    """Our template's body with each Go action replaced by the JSON of the value it reads
    (`.app.x.y | toJson`, `dig "x" "y" default .app | toJson`, the Application URL)."""

    def value(match: re.Match) -> str:
        action = match.group(1).strip()
        if action.startswith("printf"):
            return json.dumps(f"https://argocd.example.com/applications/{app['metadata']['name']}")
        if action.startswith("dig"):
            words = re.findall(r'"([^"]*)"|(\bfalse\b)', action)
            *path, (default, false) = words
            keys = [key for key, _ in path]
            found: Any = app
            for key in keys:
                found = found.get(key) if isinstance(found, dict) else None
            return json.dumps(found if found is not None else (False if false else default))
        found = app
        for key in action.split("|")[0].strip().lstrip(".").split(".")[1:]:
            found = found[key]
        return json.dumps(found)

    return re.sub(r"\{\{(.*?)\}\}", value, body_template)


APPLICATION = {
    "metadata": {"name": "checkout-api"},
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://github.com/acme-shop/gitops-prod.git",
            "targetRevision": "main",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "checkout"},
    },
    "status": {
        "sync": {"status": "Synced"},
        "health": {"status": "Progressing"},
        "operationState": {
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": STARTED_AT,
            "finishedAt": FINISHED_AT,
            "operation": {"initiatedBy": {"automated": True}},
            "syncResult": {"revision": "8c2e4b7d1f0a9e3c5b6d7a8f9e0c1b2a3d4e5f60"},
        },
    },
}


def test_the_snippet_configures_argo_cd_to_send_what_we_read(client, settings):
    settings.PUBLIC_URL = "http://testserver"
    people = cast()
    pipeline, key = services.create_integration(
        model=DeploymentPipeline, name="argocd-prod", kind="argocd", team=people.team
    )
    client.force_login(people.users["team-admin"])
    session = client.session
    session[SHOWN_ONCE] = {"id": f"pipelines:{pipeline.pk}", "key": key, "secret": pipeline.secret}
    session.save()
    page = client.get(
        reverse("settings:integration", kwargs={"kind_word": "pipelines", "pk": pipeline.pk})
    ).content.decode()

    patch = json.loads(re.search(r"-p '(.*)'", snippet(page, "argocd-secret")).group(1))
    assert patch == {"stringData": {"whatchanged-key": key}}
    data = yaml.safe_load(snippet(page, "argocd-cm"))["data"]
    service = yaml.safe_load(data["service.webhook.whatchanged"])
    assert service["url"] == "http://testserver/api/v1/changes"
    assert {"name": "Authorization", "value": "Bearer $whatchanged-key"} in service["headers"]
    triggers = {"on-sync-running", "on-sync-succeeded", "on-sync-failed", "on-deployed"}
    annotations = yaml.safe_load(snippet(page, "argocd-subscribe"))["metadata"]["annotations"]
    assert annotations == {
        f"notifications.argoproj.io/subscribe.{trigger}.whatchanged": "" for trigger in triggers
    }
    fixture_keys = set(json.loads(load_fixture(PRODUCER, SUCCEEDED)["body"]))

    for trigger in triggers:
        (definition,) = yaml.safe_load(data[f"trigger.{trigger}"])
        (template,) = definition["send"]
        webhook = yaml.safe_load(data[f"template.{template}"])["webhook"]["whatchanged"]
        assert webhook["method"] == "POST"
        body = render_like_argo_cd(webhook["body"], APPLICATION)
        assert set(json.loads(body)) == fixture_keys
        assert json.loads(body)["trigger"] == trigger

        # What Argo CD would post: the service's headers, the key the secret resolves to.
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        response = post_raw(Client(), service["url"], body, headers)
        assert response.status_code == 202, response.content

    change = ChangeEvent.objects.get()
    assert (change.component, change.outcome, change.commit) == (
        "checkout-api",
        "succeeded",
        "8c2e4b7d1f0a9e3c5b6d7a8f9e0c1b2a3d4e5f60",
    )
    assert change.started_at == parse_timestamp(STARTED_AT)


def test_the_snippet_shown_later_has_a_placeholder_for_the_key(client):
    pipeline = pipeline_for(PRODUCER)
    client.force_login(cast().users["member"])
    page = client.get(
        reverse("settings:integration", kwargs={"kind_word": "pipelines", "pk": pipeline.pk})
    ).content.decode()
    assert '"whatchanged-key": "&lt;integration key&gt;"' in page
    assert KEY not in page
