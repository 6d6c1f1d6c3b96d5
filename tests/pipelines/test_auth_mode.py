"""Authentication modes (issue #19): an integration that requires a signature refuses the key alone
on every endpoint and in every place a key can be (Authorization header, path, `routing_key`,
batch, the incidents API), and takes a properly signed request; a `key` integration takes the key
alone. The mode is chosen at creation, shown, changed by admins and audited, in the form, the API
and the configuration file; existing rows get it from the migration."""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from incidents.models import Incident
from pipelines.models import AlertSource, Delivery, DeploymentPipeline
from teams.models import AuditEntry
from tests.fixtures import load_fixture
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.pipelines.test_apply_config import apply, fails
from tests.settings_actors import cast
from tests.teams.test_config_api import Api

pytestmark = pytest.mark.django_db

KEY = "auth-mode-key-0123456789"
SECRET = "test-secret"
WEBHOOK_BODY = load_fixture("devops_agent", "01_created")["body"]
ALERT24_BODY = json.dumps({"title": "Checkout 5xx above 5%", "alias": "checkout-5xx"})
PAGERDUTY_BODY = json.dumps(
    {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "orders-db/replica-lag",
        "payload": {"summary": "orders-db lag", "source": "orders-db-2", "severity": "error"},
    }
)
CHANGE_BODY = json.dumps({"component": "payments-service", "description": "Deploy v1.2.3"})
BATCH_BODY = json.dumps(
    {"changes": [json.loads(CHANGE_BODY), {"component": "search", "description": "Deploy"}]}
)
CHANGE_ENQUEUE_BODY = json.dumps(
    {"routing_key": KEY, "payload": {"summary": "Deployed inventory", "source": "inventory"}}
)
BEARER = {"Authorization": f"Bearer {KEY}"}

# Every URL form of the alert ingest: (url, headers carrying the key, body).
ALERT_ENDPOINTS = {
    "bearer /api/v1/alerts": ("/api/v1/alerts", BEARER, WEBHOOK_BODY),
    "bearer /api/v1/incidents": ("/api/v1/incidents", BEARER, ALERT24_BODY),
    "routing_key /v2/enqueue": ("/v2/enqueue", {}, PAGERDUTY_BODY),
    "key in the path": (f"/api/v1/alert-sources/{KEY}/alerts", {}, WEBHOOK_BODY),
}
# And of the change ingest.
CHANGE_ENDPOINTS = {
    "bearer /api/v1/changes": ("/api/v1/changes", BEARER, CHANGE_BODY),
    "bearer batch": ("/api/v1/changes/batch", BEARER, BATCH_BODY),
    "key in the path": (f"/api/v1/pipelines/{KEY}/events", {}, CHANGE_BODY),
    "routing_key /v2/change/enqueue": ("/v2/change/enqueue", {}, CHANGE_ENQUEUE_BODY),
}


def signed(body: str, *, at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    """The signed webhook's headers for `body`, as tests/incidents/test_alert_contract.py signs:
    base64(HMAC-SHA256(secret, "<timestamp>:<body>"))."""
    stamp = (at or timezone.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), f"{stamp}:{body}".encode(), hashlib.sha256).digest()
    return {
        "x-amzn-event-timestamp": stamp,
        "x-amzn-event-signature": base64.b64encode(digest).decode(),
    }


def post(client: Client, url: str, body: str, headers: dict[str, str]) -> Any:
    return client.generic(
        "POST", url, body.encode(), content_type="application/json", headers=headers
    )


def assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.content
    answer = response.json()
    assert set(answer) == {"code", "message", "fields"} and answer["code"] == code, answer
    assert answer["message"]


# --- Alert sources ---------------------------------------------------------------------------


def webhook_source(**fields: Any) -> AlertSource:
    return AlertSourceFactory(kind="webhook", key=KEY, secret=SECRET, **fields)


def test_a_signed_webhook_source_with_a_secret_requires_a_signature_by_default():
    assert webhook_source().auth_mode == "signature"


@pytest.mark.parametrize("endpoint", ALERT_ENDPOINTS)
def test_a_signature_source_refuses_the_key_alone_on_every_endpoint(client, endpoint):
    source = webhook_source()
    url, headers, body = ALERT_ENDPOINTS[endpoint]

    response = post(client, url, body, headers)

    assert_refused(response, "signature_required")
    assert "x-amzn-event-signature" in response.json()["message"]
    assert not Incident.objects.exists()
    assert Delivery.objects.get(alert_source=source).outcome == "rejected"


@pytest.mark.parametrize("endpoint", ALERT_ENDPOINTS)
def test_a_signature_source_takes_a_signed_request_on_every_endpoint(client, endpoint):
    webhook_source()
    url, headers, body = ALERT_ENDPOINTS[endpoint]

    response = post(client, url, body, {**headers, **signed(body)})

    assert response.status_code == 202, response.content
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amzn-event-signature": "AAAA"}, "signature_required"),  # no timestamp
        (signed(WEBHOOK_BODY, secret="wrong-secret"), "bad_signature"),
        (signed(WEBHOOK_BODY, at=timezone.now() - timedelta(hours=1)), "stale_timestamp"),
    ],
)
def test_a_badly_signed_bearer_request_is_refused_naming_the_problem(client, headers, code):
    webhook_source()
    assert_refused(post(client, "/api/v1/alerts", WEBHOOK_BODY, {**BEARER, **headers}), code)
    assert not Incident.objects.exists()


def test_a_signed_bearer_request_cannot_be_replayed(client):
    webhook_source()
    headers = {**BEARER, **signed(WEBHOOK_BODY)}
    assert post(client, "/api/v1/alerts", WEBHOOK_BODY, headers).status_code == 202
    assert_refused(post(client, "/api/v1/alerts", WEBHOOK_BODY, headers), "replayed")
    assert Incident.objects.get().repeat_count == 0


@pytest.mark.parametrize("endpoint", ALERT_ENDPOINTS)
def test_a_key_source_takes_the_key_alone(client, endpoint):
    webhook_source(auth_mode="key")
    url, headers, body = ALERT_ENDPOINTS[endpoint]
    assert post(client, url, body, headers).status_code == 202


def test_the_incidents_api_needs_the_signature_too(client):
    """The key of a signature source neither reads nor resolves its incidents alone."""
    webhook_source()
    post(client, "/api/v1/alerts", WEBHOOK_BODY, {**BEARER, **signed(WEBHOOK_BODY)})
    incident = Incident.objects.get()
    url = f"/api/v1/incidents/{incident.pk}"
    resolve = json.dumps({"status": "resolved"})

    assert_refused(client.get("/api/v1/incidents", headers=BEARER), "signature_required")
    refused = client.put(url, resolve, content_type="application/json", headers=BEARER)
    assert_refused(refused, "signature_required")
    incident.refresh_from_db()
    assert incident.status == "triggered"

    headers = {**BEARER, **signed(resolve)}
    assert client.put(url, resolve, content_type="application/json", headers=headers).json()[
        "status"
    ] == ("resolved")
    replay = client.put(url, resolve, content_type="application/json", headers=headers)
    assert_refused(replay, "replayed")
    assert client.get("/api/v1/incidents", headers={**BEARER, **signed("")}).status_code == 200


# --- Pipelines -------------------------------------------------------------------------------


def signed_pipeline(**fields: Any) -> DeploymentPipeline:
    return DeploymentPipelineFactory(
        kind="generic", key=KEY, secret=SECRET, auth_mode="signature", **fields
    )


@pytest.mark.parametrize("endpoint", CHANGE_ENDPOINTS)
def test_a_signature_pipeline_refuses_the_key_alone_on_every_endpoint(client, endpoint):
    pipeline = signed_pipeline()
    url, headers, body = CHANGE_ENDPOINTS[endpoint]

    assert_refused(post(client, url, body, headers), "signature_required")
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get(pipeline=pipeline).outcome == "rejected"


@pytest.mark.parametrize("endpoint", CHANGE_ENDPOINTS)
def test_a_signature_pipeline_takes_a_signed_request_on_every_endpoint(client, endpoint):
    signed_pipeline()
    url, headers, body = CHANGE_ENDPOINTS[endpoint]

    response = post(client, url, body, {**headers, **signed(body)})

    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.exists()


def test_a_signed_change_cannot_be_replayed_but_a_refused_one_can_be_retried(client):
    signed_pipeline()
    headers = {**BEARER, **signed(CHANGE_BODY)}
    assert post(client, "/api/v1/changes", CHANGE_BODY, headers).status_code == 202
    # Even under another Idempotency-Key (not signed): the signature was seen.
    replay = post(client, "/api/v1/changes", CHANGE_BODY, {**headers, "Idempotency-Key": "new"})
    assert_refused(replay, "replayed")
    assert ChangeEvent.objects.count() == 1

    invalid = json.dumps({"description": "no component"})
    headers = {**BEARER, **signed(invalid)}
    assert post(client, "/api/v1/changes", invalid, headers).status_code == 400
    # The refusal let the signature go: sent again, it is read again, not taken for a replay.
    assert post(client, "/api/v1/changes", invalid, headers).status_code == 400


def test_a_key_pipeline_takes_the_key_alone(client):
    DeploymentPipelineFactory(kind="generic", key=KEY, secret=SECRET)
    assert post(client, "/api/v1/changes", CHANGE_BODY, BEARER).status_code == 202
    assert post(client, "/api/v1/changes/batch", BATCH_BODY, BEARER).status_code == 202


def test_a_signing_kind_refuses_the_key_alone_even_under_the_generic_url(client):
    DeploymentPipelineFactory(kind="github", key=KEY, secret=SECRET)
    assert_refused(post(client, "/api/v1/changes", CHANGE_BODY, BEARER), "signature_required")


# --- The migration ---------------------------------------------------------------------------

BEFORE = [("pipelines", "0005_alertsource_group_window_minutes")]
MIGRATION = [("pipelines", "0006_integration_auth_mode_and_signature_retention")]


@pytest.fixture
def migrated_back(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_requires_signatures_where_a_secret_could_sign(migrated_back):
    Pipeline = migrated_back.get_model("pipelines", "DeploymentPipeline")
    Source = migrated_back.get_model("pipelines", "AlertSource")
    rows = {
        "github": (Pipeline, "github", "s"),
        "github-without-secret": (Pipeline, "github", ""),
        "generic": (Pipeline, "generic", "s"),  # never signed: its producers send the key
        "jenkins": (Pipeline, "jenkins", "s"),
        "webhook": (Source, "webhook", "s"),
        "webhook-without-secret": (Source, "webhook", ""),
        "alertmanager": (Source, "alertmanager", "s"),
    }
    for number, (name, (model, kind, secret)) in enumerate(rows.items()):
        model.objects.create(name=name, kind=kind, secret=secret, key_hash=f"{number:064d}")

    MigrationExecutor(connection).migrate(MIGRATION)

    modes = dict(DeploymentPipeline.objects.values_list("name", "auth_mode"))
    modes |= dict(AlertSource.objects.values_list("name", "auth_mode"))
    assert modes == {
        "github": "signature",
        "github-without-secret": "key",
        "generic": "key",
        "jenkins": "key",
        "webhook": "signature",
        "webhook-without-secret": "key",
        "alertmanager": "key",
    }


# --- Settings: the form, the page, the audit log ---------------------------------------------


@pytest.fixture
def people():
    return cast()


@pytest.fixture
def admin_client(client, people):
    client.force_login(people.users["team-admin"])
    return client


def page_of(integration: AlertSource | DeploymentPipeline) -> str:
    word = "pipelines" if isinstance(integration, DeploymentPipeline) else "alert-sources"
    return reverse("settings:integration", args=[word, integration.pk])


def test_the_form_offers_the_mode_only_where_the_kind_lets_the_admin_choose(admin_client):
    new = reverse("settings:integration-new", args=["alert-sources"])
    webhook = admin_client.get(new, {"kind": "webhook"}).content.decode()
    alertmanager = admin_client.get(new, {"kind": "alertmanager"}).content.decode()
    generic = admin_client.get(
        reverse("settings:integration-new", args=["pipelines"]), {"kind": "generic"}
    ).content.decode()

    assert '<option value="signature" selected>Signature required</option>' in webhook
    assert '<option value="key">Key only</option>' in webhook
    assert 'name="auth_mode"' not in alertmanager
    # Scripts send the key: a generic pipeline starts with the key alone.
    assert '<option value="key" selected>Key only</option>' in generic


def test_creating_and_changing_the_mode_in_the_form_is_shown_and_audited(admin_client, people):
    new = reverse("settings:integration-new", args=["alert-sources"])
    form = {
        "name": "devops-agent",
        "team": people.team.pk,
        "kind": "webhook",
        "auth_mode": "key",
        "default_severity": "high",
        "window_minutes": 60,
        "skew_minutes": 2,
        "reopen_window_minutes": 0,
        "timestamp_tolerance_seconds": 300,
    }
    assert admin_client.post(new, form).status_code == 302
    source = AlertSource.objects.get()
    assert source.auth_mode == "key"
    page = admin_client.get(page_of(source)).content.decode()
    assert "Authentication</dt><dd" in page and "key only" in page
    created = AuditEntry.objects.get(action="created")
    assert created.details["auth_mode"] == "key"

    edit = reverse("settings:integration-edit", args=["alert-sources", source.pk])
    assert admin_client.post(edit, {**form, "auth_mode": "signature"}).status_code == 302
    source.refresh_from_db()
    assert source.auth_mode == "signature"
    assert "signature required" in admin_client.get(page_of(source)).content.decode()
    changed = AuditEntry.objects.get(action="changed")
    assert changed.details == {"auth_mode": ["key", "signature"]}
    audit_page = admin_client.get(reverse("settings:audit")).content.decode()
    assert "Authentication" in audit_page


def test_a_kind_with_one_mode_is_saved_with_it_whatever_is_posted(admin_client, people):
    new = reverse("settings:integration-new", args=["pipelines"])
    form = {"name": "gh", "team": people.team.pk, "kind": "github", "auth_mode": "key"}
    assert admin_client.post(new, form).status_code == 302
    assert DeploymentPipeline.objects.get().auth_mode == "signature"


def test_the_page_of_a_signing_source_shows_how_to_sign(admin_client, people):
    source = webhook_source(team=people.team)
    page = admin_client.get(page_of(source)).content.decode()
    assert "signature required" in page
    assert "openssl dgst -sha256 -hmac" in page and "x-amzn-event-signature: $signature" in page

    pipeline = signed_pipeline(team=people.team)
    page = admin_client.get(page_of(pipeline)).content.decode()
    assert "openssl dgst -sha256 -hmac" in page and "Rotate signing secret" in page


# --- The configuration API and file ----------------------------------------------------------


def test_the_api_sets_shows_and_checks_the_mode(people):
    api = Api(people.users["team-admin"])
    body = {"name": "agent", "kind": "webhook", "team": "payments"}

    created = api.post("/api/v1/alert-sources", body).json()
    assert created["auth_mode"] == "signature"
    changed = api.patch(f"/api/v1/alert-sources/{created['id']}", {"auth_mode": "key"})
    assert changed.status_code == 200 and changed.json()["auth_mode"] == "key"
    assert AuditEntry.objects.filter(
        action="changed", details={"auth_mode": ["signature", "key"]}
    ).exists()

    github = {"name": "gh", "kind": "github", "team": "payments", "auth_mode": "key"}
    refused = api.post("/api/v1/pipelines", github)
    assert refused.status_code == 400
    assert "always signs" in refused.json()["fields"]["auth_mode"][0]
    # Another kind that cannot keep the mode gets its own.
    moved = api.patch(f"/api/v1/alert-sources/{created['id']}", {"auth_mode": "signature"})
    assert moved.json()["auth_mode"] == "signature"
    moved = api.patch(f"/api/v1/alert-sources/{created['id']}", {"kind": "alertmanager"})
    assert moved.json()["auth_mode"] == "key"


def test_the_configuration_file_sets_and_checks_the_mode(tmp_path, capsys):
    apply(
        tmp_path,
        "pipelines:\n  - {name: deploys, kind: generic, auth_mode: signature}\n"
        "alert_sources:\n  - {name: agent, kind: webhook, auth_mode: key}\n"
        "  - {name: agent-signed, kind: webhook}\n",
        capsys,
    )
    assert DeploymentPipeline.objects.get(name="deploys").auth_mode == "signature"
    modes = dict(AlertSource.objects.values_list("name", "auth_mode"))
    assert modes == {"agent": "key", "agent-signed": "signature"}

    errors = fails(
        tmp_path, "alert_sources:\n  - {name: am, kind: grafana, auth_mode: signature}\n", capsys
    )
    assert any(
        "alert_sources[0] (am).auth_mode: Grafana alerting signs nothing" in e for e in errors
    )
