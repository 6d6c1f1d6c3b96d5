"""The ingest contract on the generic endpoint: bad input never gives a 500, nothing valid is
lost or duplicated, and every answer is in the one shape."""

import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.models import ChangeEvent
from changes.services import CORRELATION_REQUESTED
from incidents import tasks
from pipelines.deliveries import TRIM_EVERY
from pipelines.models import Delivery, DeploymentPipeline
from pipelines.services import rotate_key
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_json, post_raw
from tests.fixtures import load_fixture
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db

VALID = {"component": "payments-service", "description": "Deploy v1.2.3"}


@pytest.fixture
def pipeline():
    return pipeline_for("alert24")


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    if field:
        assert field in body["fields"], body
        assert field in body["message"]
    return body


def test_a_valid_change_is_committed_and_readable(client, pipeline, user):
    response = post_json(client, {**VALID, "environment": "production", "kind": "rollback"})

    assert response.status_code == 202
    change = ChangeEvent.objects.get(pk=response.json()["id"])
    assert (change.component, change.environment, change.kind) == (
        "payments-service",
        "production",
        "rollback",
    )
    assert change.outcome == "succeeded" and change.occurred_at == change.received_at
    pipeline.refresh_from_db()
    assert pipeline.last_event_at == change.received_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2, 3], "body"),
        ("just a string", "body"),
        ({"description": "no component"}, "component"),
        ({**VALID, "component": {"name": "x"}}, "component"),
        ({**VALID, "metadata": "commit=abc"}, "metadata"),
        ({**VALID, "occurred_at": "yesterday"}, "occurred_at"),
        ({**VALID, "occurred_at": True}, "occurred_at"),
        ({**VALID, "kind": "explosion"}, "kind"),
        ({**VALID, "outcome": "meh"}, "outcome"),
        ({**VALID, "links": "https://ci.example.com"}, "links"),
        ({**VALID, "links": [42]}, "links.0"),
        ({**VALID, "component": "x" * 201}, "component"),
        ({**VALID, "environment": ["production"]}, "environment"),
    ],
)
def test_wrong_fields_get_400_naming_the_field(client, pipeline, body, field):
    assert_error(post_json(client, body), 400, "invalid", field)
    assert not ChangeEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert (delivery.outcome, delivery.status_code) == ("rejected", 400)
    assert field in delivery.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"   ",
        b'{"component": "x"',
        b"\xff\xfe{}",
        b'{"component": NaN}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["broken", "empty", "blank", "truncated", "invalid-utf8", "nan", "deep"],
)
def test_malformed_bodies_get_400(client, pipeline, raw):
    response = post_raw(client, "/api/v1/changes", raw, {"Authorization": f"Bearer {KEY}"})
    assert_error(response, 400, "malformed_json")


def test_wrong_content_type_is_still_read_as_json(client, pipeline):
    response = post_raw(
        client,
        "/api/v1/changes",
        json.dumps(VALID),
        {"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain; charset=UTF-8"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Basic dGVzdDp0ZXN0"},
        {"Authorization": "Bearer " + "k" * 10_000},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "basic", "huge", "empty"],
)
def test_unknown_or_missing_key_is_401_whether_or_not_pipelines_exist(client, headers):
    before = post_raw(client, "/api/v1/changes", json.dumps(VALID), headers)
    pipeline_for("alert24")
    after = post_raw(client, "/api/v1/changes", json.dumps(VALID), headers)

    assert before.json() == after.json()
    assert_error(after, 401, "unknown_key")
    assert not ChangeEvent.objects.exists() and not Delivery.objects.exists()


def test_a_disabled_pipeline_is_refused_with_403_and_the_attempt_logged(client):
    pipeline = pipeline_for("alert24", enabled=False)
    assert_error(post_json(client, VALID), 403, "integration_disabled")
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get(pipeline=pipeline).status_code == 403


def test_body_over_the_limit_is_413(client, pipeline, settings):
    settings.INGEST_MAX_BODY_BYTES = 1024
    big = {**VALID, "description": "x" * 2000}
    assert_error(post_json(client, big), 413, "body_too_large")
    assert not ChangeEvent.objects.exists()


def test_default_limit_is_one_mebibyte(client, pipeline):
    ok = post_json(client, {**VALID, "description": "x" * 1_000_000})
    too_big = post_json(client, {**VALID, "description": "x" * (1024 * 1024)})
    assert ok.status_code == 202
    assert too_big.status_code == 413


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_over_the_rate_limit_is_429_with_retry_after(client, pipeline, settings, backend, request):
    if backend == "redis":
        request.getfixturevalue("redis_cache")
    settings.INGEST_RATE_LIMIT = 3
    statuses = [post_json(client, VALID).status_code for _ in range(4)]

    assert statuses == [202, 202, 202, 429]
    response = post_json(client, VALID)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert ChangeEvent.objects.count() == 3
    # Another pipeline has its own budget.
    other = DeploymentPipelineFactory(key="other-key-0123456789")
    assert post_json(client, VALID, key="other-key-0123456789").status_code == 202
    assert other.changes.count() == 1


def test_idempotency_key_header_makes_retries_safe(
    client, pipeline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = post_json(client, VALID, **{"Idempotency-Key": "run-42"})
    with django_capture_on_commit_callbacks() as second_callbacks:
        second = post_json(
            client, {**VALID, "description": "changed"}, **{"Idempotency-Key": "run-42"}
        )

    assert first.status_code == second.status_code == 202
    assert second.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.get().description == "Deploy v1.2.3"
    # Only the first one is handed to correlation.
    assert (len(first_callbacks), len(second_callbacks)) == (1, 0)


def test_changes_arriving_while_correlation_is_queued_join_it(
    client, pipeline, correlation_runs, django_capture_on_commit_callbacks
):
    """A burst of changes sends one correlation message, not one each: the worker takes every
    change waiting when it runs."""
    cache.set(CORRELATION_REQUESTED, 1)  # as if a message were queued and not yet taken

    with django_capture_on_commit_callbacks(execute=True):
        ids = [post_json(client, VALID).json()["id"] for _ in range(3)]
    assert ChangeEvent.objects.filter(pk__in=ids, correlated_at=None).count() == 3
    assert correlation_runs == []

    tasks.correlate_pending_changes.delay()  # the queued message reaches the worker
    with django_capture_on_commit_callbacks(execute=True):
        post_json(client, VALID)  # and the request is taken: the next change asks again

    assert correlation_runs == [3, 1]
    assert not ChangeEvent.objects.filter(correlated_at=None).exists()


def test_idempotency_key_is_per_pipeline(client, pipeline):
    DeploymentPipelineFactory(key="second-key-0123456789")
    post_json(client, VALID, **{"Idempotency-Key": "same"})
    post_json(client, VALID, key="second-key-0123456789", **{"Idempotency-Key": "same"})
    assert ChangeEvent.objects.count() == 2


def test_an_overlong_idempotency_key_is_refused(client, pipeline):
    response = post_json(client, VALID, **{"Idempotency-Key": "k" * 201})
    assert_error(response, 400, "invalid", "Idempotency-Key")


def test_without_idempotency_key_every_post_is_a_change(client, pipeline):
    post_json(client, VALID)
    post_json(client, VALID)
    assert ChangeEvent.objects.count() == 2


def test_rotation_invalidates_the_old_key(client, pipeline):
    new_key = rotate_key(integration=pipeline)

    assert_error(post_json(client, VALID), 401, "unknown_key")
    assert post_json(client, VALID, key=new_key).status_code == 202


def test_created_key_works_and_is_not_stored(client, capsys):
    call_command("create_integration", "pipeline", "--kind", "generic", "--name", "ci")
    key = json.loads(capsys.readouterr().out)["key"]
    assert post_json(client, VALID, key=key).status_code == 202
    assert not DeploymentPipeline.objects.filter(key_hash=key).exists()


def test_path_keyed_endpoint_needs_no_header(client, pipeline):
    response = post_raw(client, f"/api/v1/pipelines/{KEY}/events", json.dumps(VALID))
    assert response.status_code == 202
    assert_error(
        post_raw(client, "/api/v1/pipelines/nope/events", json.dumps(VALID)), 401, "unknown_key"
    )


def test_large_description_and_unicode_are_kept_exactly(client, pipeline):
    description = "Déploiement 🚀 — " + "ü" * 60_000
    response = post_json(
        client, {"component": "  Zahlungs-Dienst ÜBER  ", "description": description}
    )

    change = ChangeEvent.objects.get(pk=response.json()["id"])
    assert change.component == "zahlungs-dienst über"
    assert change.description == description


def test_nul_bytes_and_lone_surrogates_are_dropped_not_fatal(client, pipeline):
    raw = (
        '{"component": "api\\u0000", "description": "bad \\ud800 text",'
        ' "metadata": {"k\\u0000": "v"}}'
    )
    response = post_raw(client, "/api/v1/changes", raw, {"Authorization": f"Bearer {KEY}"})

    assert response.status_code == 202
    change = ChangeEvent.objects.get()
    assert change.component == "api" and "\x00" not in json.dumps(change.metadata)
    assert change.description.startswith("bad ") and "\ud800" not in change.description


def test_components_resolve_through_aliases(client, pipeline):
    payments = ComponentFactory(name="payments-service")
    ComponentAliasFactory(component=payments, name="payments-prod")

    post_json(client, {**VALID, "component": " Payments-PROD "})
    post_json(client, {**VALID, "component": "unknown-thing"})

    known, unknown = ChangeEvent.objects.order_by("id")
    assert (known.component, known.resolved_component) == ("payments-prod", payments)
    assert (unknown.component, unknown.resolved_component) == ("unknown-thing", None)


@pytest.mark.parametrize(
    ("filters", "body", "recorded"),
    [
        ({"environments": ["production"]}, {"environment": "Production"}, True),
        ({"environments": ["production"]}, {"environment": "staging"}, False),
        ({"environments": ["production"]}, {}, False),
        ({"branches": ["main"]}, {"branch": "main"}, True),
        ({"branches": ["main"]}, {"branch": "feature/x"}, False),
        ({"branches": ["main"]}, {}, True),
        ({"event_types": ["change"]}, {}, True),
        ({"event_types": ["push"]}, {}, False),
    ],
)
def test_noise_filters_ignore_with_a_reason(client, filters, body, recorded):
    pipeline_for("alert24", **filters)
    response = post_json(client, {**VALID, **body})

    assert ChangeEvent.objects.exists() is recorded
    delivery = Delivery.objects.get()
    if recorded:
        assert response.status_code == 202 and delivery.outcome == "accepted"
    else:
        assert response.status_code == 200 and response.json()["status"] == "ignored"
        assert delivery.outcome == "ignored" and "is not one of this pipeline's" in delivery.reason


def test_alert24_reference_fields_are_read(client, pipeline):
    response = post_json(
        client,
        {
            "summary": "Bump connection pool",
            "change_type": "configuration",
            "environment": "production",
            "commit_sha": "abc1234",
            "branch": "main",
            "changed_by": "alice",
            "service_id": "7d0c1e0c-2f7e-4a8e-9a51-0f3a3b0b9c11",
        },
    )
    change = ChangeEvent.objects.get(pk=response.json()["id"])
    assert (change.summary, change.kind, change.commit) == (
        "Bump connection pool",
        "config",
        "abc1234",
    )
    assert (change.triggered_by, change.environment) == ("alice", "production")
    assert change.metadata["service_id"].startswith("7d0c1e0c")


def test_github_signature_is_verified(client):
    pipeline_for("github")
    fixture = load_fixture("github", "deployment_status_success")
    tampered = {**fixture, "body": fixture["body"].replace("dana-ops", "mallory")}
    unsigned = {
        **fixture,
        "headers": {k: v for k, v in fixture["headers"].items() if "Signature" not in k},
    }

    assert_error(post_fixture(client, "github", tampered), 401, "bad_signature")
    assert_error(post_fixture(client, "github", unsigned), 401, "signature_required")
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.filter(outcome="rejected").count() == 2


def test_gitlab_token_is_verified(client):
    pipeline_for("gitlab")
    fixture = load_fixture("gitlab", "deployment_hook_success")
    wrong = {**fixture, "headers": {**fixture["headers"], "X-Gitlab-Token": "guess"}}
    assert_error(post_fixture(client, "gitlab", wrong), 401, "bad_signature")
    assert not ChangeEvent.objects.exists()


def test_body_keyed_endpoints_refuse_a_missing_or_wrong_key(client):
    pipeline_for("pagerduty_change")
    fixture = load_fixture("pagerduty_change", "deploy_script_change_event")
    body = json.loads(fixture["body"])
    for routing_key in (None, "wrong", 12):
        sent = {**body, "routing_key": routing_key}
        response = post_raw(client, "/v2/change/enqueue", json.dumps(sent))
        assert_error(response, 401, "unknown_key")


def test_one_ingest_costs_a_small_constant_number_of_queries(client, pipeline):
    # Inside the test's transaction nothing is cached: the pipeline by key hash, the
    # component, the change with its delivery record in one insert (in a savepoint pair: the
    # test's transaction makes the durable statement one); the first also notes
    # pipeline.last_event_at. Every TRIM_EVERY-th delivery record also trims the log (one
    # SELECT here): which one that is depends on the suite's order. SQLite takes an INSERT for
    # each row.
    inserts = 1 if connection.vendor == "postgresql" else 2
    for number, queries in enumerate((5 + inserts, 4 + inserts, 4 + inserts)):
        with CaptureQueriesContext(connection) as captured:
            response = post_json(client, VALID, **{"Idempotency-Key": f"run-{number}"})
        assert response.status_code == 202
        trimmed = Delivery.objects.latest("pk").pk % TRIM_EVERY == 0
        assert len(captured.captured_queries) == queries + trimmed, captured.captured_queries


def test_deliveries_are_capped_per_integration(client, pipeline, settings):
    for _ in range(130):
        post_json(client, {"bad": "body"})
    assert Delivery.objects.filter(pipeline=pipeline).count() <= 120


@pytest.mark.parametrize(
    ("producer", "name"),
    [
        ("pagerduty_change", "deploy_script_change_event"),
        ("ilert", "api_deployment_event_iso_timestamp"),
    ],
)
def test_keys_sent_in_the_body_never_reach_the_delivery_log(client, producer, name):
    pipeline_for(producer)
    assert post_fixture(client, producer, load_fixture(producer, name)).status_code == 202
    delivery = Delivery.objects.get()
    assert KEY not in delivery.payload and "[redacted]" in delivery.payload


def test_an_address_sending_unknown_keys_is_slowed_down(client, pipeline, settings):
    settings.INGEST_UNKNOWN_KEY_LIMIT = 3
    guesses = [post_json(client, VALID, key=f"guess-{n}").status_code for n in range(4)]

    assert guesses == [401, 401, 401, 429]
    refused = post_json(client, VALID, key="guess-5")
    assert_error(refused, 429, "throttled")
    assert 1 <= int(refused["Retry-After"]) <= 60
    other_address = client.post(
        "/api/v1/changes",
        json.dumps(VALID),
        content_type="application/json",
        headers={"Authorization": "Bearer guess-6"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert other_address.status_code == 401
    assert post_json(client, VALID).status_code == 202  # the right key is still accepted


def test_behind_a_proxy_the_forwarded_address_is_counted(client, pipeline, settings):
    settings.INGEST_UNKNOWN_KEY_LIMIT = 1
    settings.TRUSTED_PROXIES = 1

    def guess(forwarded_for: str) -> int:
        headers = {"Authorization": "Bearer guess", "X-Forwarded-For": forwarded_for}
        return post_raw(client, "/api/v1/changes", json.dumps(VALID), headers).status_code

    assert [guess("203.0.113.5"), guess("203.0.113.5")] == [401, 429]
    assert guess("forged, 203.0.113.9") == 401  # another client behind the same proxy


@pytest.mark.parametrize("value", ["run\x00-1", "run-\ud800"])
def test_a_header_no_database_could_store_is_refused(client, pipeline, value):
    response = post_json(client, VALID, **{"Idempotency-Key": value})
    assert_error(response, 400, "malformed_header", "Idempotency-Key")
    assert not ChangeEvent.objects.exists()
