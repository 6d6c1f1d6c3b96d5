"""Flux through the real endpoint: the signature and the key in the path, repeats of a revision
already recorded, the reports of one revision in either order, and the setup snippet."""

import hashlib
import hmac
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
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db

PRODUCER = "flux"
RECONCILED = "kustomization_reconciled"
SHA = "5d1c0a2f4e9b8c7d6a5b4c3d2e1f0a9b8c7d6e5f"
REPEAT = f"revision main@sha1:{SHA} of Kustomization/flux-system/checkout-api already recorded"


def signed(body: dict[str, Any] | str, signing_key: str = KEY) -> dict[str, Any]:
    """A request as notification-controller sends it: compact JSON, signed with `signing_key`
    (the Provider Secret's token)."""
    raw = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    signature = hmac.new(signing_key.encode(), raw.encode(), hashlib.sha256).hexdigest()
    headers = {
        **load_fixture(PRODUCER, RECONCILED)["headers"],
        "X-Signature": f"sha256={signature}",
    }
    return {"body": raw, "headers": headers}


def event(name: str = RECONCILED, **changes: Any) -> dict[str, Any]:
    """A fixture's body with top-level fields or metadata entries (`metadata__env`) set."""
    body = json.loads(load_fixture(PRODUCER, name)["body"])
    for field, value in changes.items():
        if field.startswith("metadata__"):
            body["metadata"][field.removeprefix("metadata__")] = value
        else:
            body[field] = value
    return body


def post(client: Client, body: dict[str, Any], key: str = KEY) -> Any:
    return post_fixture(client, PRODUCER, signed(body), key=key)


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not ChangeEvent.objects.exists()


# --- Signature and key --------------------------------------------------------------------------


def test_the_bad_signature_fixture_is_refused_and_logged(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, load_fixture(PRODUCER, "bad_signature"))
    assert_refused(response, 401, "bad_signature")
    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.outcome, delivery.status_code) == ("rejected", 401)
    assert "X-Signature" in delivery.reason


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=deadbeef", "sha1=0123", "not-a-signature"],
    ids=["missing", "empty", "no-hex", "wrong-hex", "sha1", "no-prefix"],
)
def test_a_missing_or_wrong_signature_is_refused(client, signature):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, RECONCILED)
    headers = {k: v for k, v in fixture["headers"].items() if k != "X-Signature"}
    if signature is not None:
        headers["X-Signature"] = signature
    code = "bad_signature" if signature else "signature_required"  # none at all: required
    assert_refused(post_fixture(client, PRODUCER, {**fixture, "headers": headers}), 401, code)


def test_a_body_changed_after_signing_is_refused(client):
    pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, RECONCILED)
    tampered = {**fixture, "body": fixture["body"].replace("production", "staging")}
    assert_refused(post_fixture(client, PRODUCER, tampered), 401, "bad_signature")


def test_a_body_signed_with_another_secret_is_refused(client):
    pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, signed(event(), signing_key="wrong-secret"))
    assert_refused(response, 401, "bad_signature")


def test_the_signature_is_checked_over_the_exact_bytes(client):
    pipeline_for(PRODUCER)
    # The same event with other spacing is other bytes: signed as sent, it is accepted.
    spaced = json.dumps(event(), indent=2)
    assert post_fixture(client, PRODUCER, signed(spaced)).status_code == 202


@pytest.mark.parametrize("key", ["wrong-key-0123456789", "x"])
def test_a_wrong_key_in_the_path_is_refused(client, key):
    pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED), key=key)
    assert_refused(response, 401, "unknown_key")
    assert not Delivery.objects.exists()


def test_the_key_in_the_path_is_the_only_credential_flux_needs(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED))
    assert response.status_code == 202
    assert ChangeEvent.objects.get().pipeline == pipeline


def test_a_pipeline_of_another_kind_does_not_read_flux(client):
    pipeline_for("github")
    response = post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED))
    assert_refused(response, 401, "signature_required")  # GitHub's signature header is missing


# --- Repeats and replays ------------------------------------------------------------------------


def test_a_retry_of_the_same_bytes_stores_nothing_new(client):
    pipeline = pipeline_for(PRODUCER)
    fixture = load_fixture(PRODUCER, RECONCILED)
    first = post_fixture(client, PRODUCER, fixture)
    again = post_fixture(client, PRODUCER, fixture)

    change = ChangeEvent.objects.get()
    assert first.json() == {"id": change.pk, "status": "recorded"}
    # Flux has no delivery id: a retry is a repeat of a recorded state, acknowledged as noise.
    assert again.status_code == 200
    assert again.json() == {"status": "ignored", "reason": REPEAT}
    assert len(change.transitions) == 1
    assert Delivery.objects.filter(pipeline=pipeline, outcome="ignored", reason=REPEAT).count() == 1


def test_reconciliation_succeeded_every_interval_is_recorded_once(client):
    pipeline_for(PRODUCER)
    first = post(client, event())
    answers = [
        post(
            client,
            event(timestamp=f"2026-11-20T14:{minute}:41Z", message="Reconciliation finished in 2s"),
        )
        for minute in (15, 25, 35)
    ]

    change = ChangeEvent.objects.get()
    assert first.json()["status"] == "recorded"
    assert [answer.json() for answer in answers] == [{"status": "ignored", "reason": REPEAT}] * 3
    assert change.occurred_at == parse_timestamp("2026-11-20T14:05:41Z")


def test_a_new_revision_is_a_new_change(client):
    pipeline_for(PRODUCER)
    post(client, event())
    later = "main@sha1:" + "b" * 40
    response = post(client, event(timestamp="2026-11-20T14:20:00Z", metadata__revision=later))

    assert response.status_code == 202
    assert response.json()["status"] == "recorded"
    assert ChangeEvent.objects.count() == 2
    assert ChangeEvent.objects.get(pk=response.json()["id"]).commit == "b" * 40


def test_the_same_revision_of_another_object_is_another_change(client):
    pipeline_for(PRODUCER)
    post(client, event())
    other = event()
    other["involvedObject"] = {**other["involvedObject"], "name": "checkout-worker", "uid": "u-2"}
    assert post(client, other).json()["status"] == "recorded"
    assert ChangeEvent.objects.count() == 2


def test_progressing_steps_are_ignored_and_the_revision_recorded_once(client):
    pipeline = pipeline_for(PRODUCER)
    progressing = post_fixture(client, PRODUCER, load_fixture(PRODUCER, "progressing_ignored"))
    reconciled = post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED))

    assert progressing.status_code == 200 and progressing.json()["status"] == "ignored"
    assert reconciled.json()["status"] == "recorded"
    assert Delivery.objects.filter(pipeline=pipeline).count() == 2
    assert ChangeEvent.objects.get().outcome == "succeeded"


# --- The reports of one revision ----------------------------------------------------------------

FAILED_AT = "2026-11-20T13:58:00Z"  # a health check failed before the revision went through


def failure() -> dict[str, Any]:
    return event(
        timestamp=FAILED_AT,
        severity="error",
        reason="HealthCheckFailed",
        message="Health check failed after 5m0s: timeout waiting for: [Deployment/checkout/api]",
    )


def test_a_failure_then_the_success_of_the_same_revision_make_one_change(client):
    pipeline_for(PRODUCER)
    failed = post(client, failure())
    succeeded = post(client, event())

    change = ChangeEvent.objects.get()
    assert failed.json() == {"id": change.pk, "status": "recorded"}
    assert succeeded.json() == {"id": change.pk, "status": "updated"}
    assert (change.outcome, change.commit) == ("succeeded", SHA)
    assert change.finished_at == change.occurred_at == parse_timestamp("2026-11-20T14:05:41Z")
    assert [report["outcome"] for report in change.transitions] == ["failed", "succeeded"]


def test_a_late_failure_of_a_revision_already_through_does_not_undo_it(client):
    pipeline_for(PRODUCER)
    post(client, event())
    late = post(client, failure())

    change = ChangeEvent.objects.get()
    assert late.json() == {"id": change.pk, "status": "updated"}
    assert change.outcome == "succeeded"
    assert change.occurred_at == parse_timestamp("2026-11-20T14:05:41Z")
    assert [report["outcome"] for report in change.transitions] == ["failed", "succeeded"]


def test_a_failure_repeated_on_every_retry_is_recorded_once(client):
    pipeline_for(PRODUCER)
    post(client, failure())
    retry = failure() | {"timestamp": "2026-11-20T14:03:00Z"}
    response = post(client, retry)

    assert response.json() == {"status": "ignored", "reason": REPEAT + " as failed"}
    assert ChangeEvent.objects.get().outcome == "failed"


def test_a_failed_helm_upgrade_and_its_rollback_are_two_changes(client):
    pipeline_for(PRODUCER)
    failed = post_fixture(client, PRODUCER, load_fixture(PRODUCER, "helmrelease_upgrade_failed"))
    rollback = event(
        "helmrelease_upgrade_failed",
        timestamp="2026-11-20T14:24:41Z",
        severity="info",
        reason="RollbackSucceeded",
        message="Helm rollback to previous release search/search-api.v17 with chart "
        "search-api@2.9.0 succeeded",
        metadata__revision="2.9.0",
    )
    rolled_back = post(client, rollback)

    assert failed.json()["status"] == rolled_back.json()["status"] == "recorded"
    kinds = dict(ChangeEvent.objects.values_list("kind", "version"))
    assert kinds == {"deployment": "2.9.1", "rollback": "2.9.0"}


def test_aliases_name_the_component(client):
    component = ComponentFactory(name="checkout")
    ComponentAliasFactory(component=component, name="checkout-api")
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED))
    assert ChangeEvent.objects.get().resolved_component == component


def test_a_noise_filter_on_the_environment_applies(client):
    pipeline_for(PRODUCER, environments=["staging"])
    response = post_fixture(client, PRODUCER, load_fixture(PRODUCER, RECONCILED))
    assert response.json()["status"] == "ignored"
    assert "environment production" in response.json()["reason"]


def test_an_unreadable_event_is_400_naming_the_field(client):
    pipeline_for(PRODUCER)
    body = event()
    body["involvedObject"] = {**body["involvedObject"], "name": ["checkout-api"]}
    response = post(client, body)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["involvedObject.name"]


# --- The setup snippet --------------------------------------------------------------------------


def shown_once(client: Client, pipeline: DeploymentPipeline, **shown: str) -> str:
    """The pipeline's settings page as right after its creation, with its key and secret."""
    session = client.session
    session[SHOWN_ONCE] = {"id": f"pipelines:{pipeline.pk}", **shown}
    session.save()
    url = reverse("settings:integration", kwargs={"kind_word": "pipelines", "pk": pipeline.pk})
    return client.get(url).content.decode()


def snippet_documents(page: str) -> list[dict[str, Any]]:
    block = re.search(r'<pre class="snippet" id="snippet-flux">(.*?)</pre>', page, re.DOTALL)
    assert block, "the Flux snippet is on the page"
    return list(yaml.safe_load_all(html.unescape(block.group(1))))


def test_the_snippet_sets_up_a_signed_provider_that_works(client, settings):
    settings.PUBLIC_URL = "http://testserver"
    people = cast()
    pipeline, key = services.create_integration(
        model=DeploymentPipeline, name="flux-prod", kind="flux", team=people.team
    )
    client.force_login(people.users["team-admin"])
    page = shown_once(client, pipeline, key=key, secret=pipeline.secret)
    secret, provider, alert = snippet_documents(page)

    assert secret["kind"] == "Secret" and provider["kind"] == "Provider"
    assert provider["spec"] == {"type": "generic-hmac", "secretRef": {"name": "whatchanged"}}
    assert secret["metadata"]["name"] == "whatchanged"
    assert alert["kind"] == "Alert"
    assert alert["spec"]["providerRef"] == {"name": provider["metadata"]["name"]}
    assert alert["spec"]["eventSeverity"] == "info"  # info includes error
    assert {source["kind"] for source in alert["spec"]["eventSources"]} == {
        "Kustomization",
        "HelmRelease",
    }
    assert set(alert["spec"]["eventMetadata"]) == {"env", "cluster"}
    assert secret["stringData"]["token"] == pipeline.secret

    # What Flux would send with this Secret: to its address, signed with its token.
    request = signed(event(), signing_key=secret["stringData"]["token"])
    response = post_raw(
        Client(), secret["stringData"]["address"], request["body"], request["headers"]
    )
    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.get().pipeline == pipeline


def test_the_snippet_shown_later_has_placeholders_not_the_secret(client):
    pipeline = pipeline_for(PRODUCER)
    client.force_login(cast().users["member"])
    page = client.get(
        reverse("settings:integration", kwargs={"kind_word": "pipelines", "pk": pipeline.pk})
    ).content.decode()
    secret = snippet_documents(page)[0]
    assert secret["stringData"]["token"] == "<signing secret>"
    assert secret["stringData"]["address"].endswith("/api/v1/pipelines/<integration-key>/events")
    assert "test-secret" not in page
