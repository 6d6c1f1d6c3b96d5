"""POST /api/v1/changes/batch: many generic changes per request, a result for each, valid ones
committed whatever the others are, nothing stored twice, and as many queries for 500 as for 10."""

import json
import math

import pytest
from django.core.management import call_command
from django.db import connection

from changes.models import ChangeEvent
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_json, post_raw
from tests.conftest import all_at_once, postgres_only, wait_for
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/changes/batch"
VALID = {"component": "payments-service", "description": "Deploy v1.2.3"}


@pytest.fixture
def pipeline():
    return pipeline_for("alert24")


def post_batch(client, body, key: str = KEY):
    return post_raw(client, URL, json.dumps(body), {"Authorization": f"Bearer {key}"})


def statuses(response) -> list[str]:
    return [result["status"] for result in response.json()["results"]]


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == code
    if field:
        assert field in body["fields"] and field in body["message"], body
    return body


def test_a_batch_is_committed_with_every_field_and_an_id_per_change(client, pipeline):
    payments = ComponentFactory(name="payments-service")
    ComponentAliasFactory(component=payments, name="payments-prod")
    changes = [
        {
            "component": " Payments-PROD ",
            "environment": "production",
            "kind": "rollback",
            "outcome": "failed",
            "summary": "Roll back v4.7.0",
            "description": "Error rate up",
            "triggered_by": "dana",
            "version": "v4.6.9",
            "commit": "abc1234",
            "occurred_at": "2025-03-01T10:00:00Z",
            "links": [{"href": "https://ci.example.com/runs/1", "text": "run"}],
            "idempotency_key": "run-1",
            "ticket": "OPS-7",
        },
        {"component": "unknown-thing", "description": "Deploy"},
        {"summary": "Bump pool", "change_type": "configuration", "changed_by": "alice"},
    ]

    response = post_batch(client, {"changes": changes})

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["recorded"], body["duplicates"], body["invalid"], body["ignored"]) == (3, 0, 0, 0)
    assert [result["index"] for result in body["results"]] == [0, 1, 2]
    assert statuses(response) == ["recorded"] * 3
    ids = [result["id"] for result in body["results"]]
    first, unknown, third = (ChangeEvent.objects.get(pk=change_id) for change_id in ids)
    assert (first.component, first.resolved_component) == ("payments-prod", payments)
    assert (first.environment, first.kind, first.outcome) == ("production", "rollback", "failed")
    assert (first.summary, first.description, first.triggered_by) == (
        "Roll back v4.7.0",
        "Error rate up",
        "dana",
    )
    assert (first.version, first.commit, first.idempotency_key) == ("v4.6.9", "abc1234", "run-1")
    assert first.occurred_at.isoformat() == "2025-03-01T10:00:00+00:00"
    assert first.links == [{"href": "https://ci.example.com/runs/1", "text": "run"}]
    assert first.metadata == {"ticket": "OPS-7"}
    assert first.pipeline == pipeline
    assert (unknown.resolved_component, unknown.idempotency_key) == (None, "")
    assert unknown.occurred_at == unknown.received_at == first.received_at
    assert (third.kind, third.triggered_by, third.summary) == ("config", "alice", "Bump pool")
    pipeline.refresh_from_db()
    assert pipeline.last_event_at == first.received_at


def test_a_bare_list_is_a_batch_too(client, pipeline):
    response = post_batch(client, [VALID, {**VALID, "idempotency_key": "k"}])

    assert response.status_code == 202
    assert statuses(response) == ["recorded", "recorded"]
    assert ChangeEvent.objects.count() == 2


def test_valid_changes_are_committed_and_invalid_ones_named_by_index_and_field(client, pipeline):
    changes = [
        VALID,
        {"description": "no component"},
        {**VALID, "kind": "explosion"},
        "not an object",
        {**VALID, "links": [42]},
        {**VALID, "idempotency_key": "ok-1"},
    ]

    response = post_batch(client, {"changes": changes})

    assert response.status_code == 202
    body = response.json()
    assert statuses(response) == [
        "recorded",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "recorded",
    ]
    assert (body["recorded"], body["invalid"]) == (2, 4)
    errors = [result.get("errors") for result in body["results"]]
    assert errors[0] is None and errors[5] is None
    assert list(errors[1]) == ["changes.1.component"]
    assert list(errors[2]) == ["changes.2.kind"] and "explosion" in errors[2]["changes.2.kind"][0]
    assert list(errors[3]) == ["changes.3"]
    assert list(errors[4]) == ["changes.4.links.0"]
    assert [result["id"] for result in body["results"]][1:5] == [None] * 4
    stored = set(ChangeEvent.objects.values_list("id", flat=True))
    assert stored == {body["results"][0]["id"], body["results"][5]["id"]}
    delivery = Delivery.objects.get()
    assert (delivery.status_code, delivery.outcome) == (202, "accepted")
    assert "2 recorded" in delivery.reason and "changes.1.component" in delivery.reason


def test_a_batch_with_no_valid_change_is_refused_naming_every_field(client, pipeline):
    response = post_batch(client, {"changes": [{"description": "x"}, {**VALID, "kind": "boom"}]})

    body = assert_error(response, 400, "invalid", "changes.0.component")
    assert set(body["fields"]) == {"changes.0.component", "changes.1.kind"}
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get().outcome == "rejected"


def test_duplicates_within_a_batch_and_across_batches_are_stored_once(
    client, pipeline, correlation_runs, django_capture_on_commit_callbacks
):
    post_json(client, {**VALID, "description": "single"}, **{"Idempotency-Key": "old"})
    first_batch = [
        {**VALID, "idempotency_key": "a", "description": "first a"},
        {**VALID, "idempotency_key": "b"},
        {**VALID, "idempotency_key": "a", "description": "second a"},
        {**VALID, "idempotency_key": "old", "description": "old again"},
        VALID,
    ]
    with django_capture_on_commit_callbacks(execute=True):
        first = post_batch(client, {"changes": first_batch})
    with django_capture_on_commit_callbacks(execute=True):
        second = post_batch(
            client, {"changes": [first_batch[1], {**VALID, "idempotency_key": "c"}]}
        )

    assert first.status_code == second.status_code == 202
    assert statuses(first) == ["recorded", "recorded", "duplicate", "duplicate", "recorded"]
    assert (first.json()["recorded"], first.json()["duplicates"]) == (3, 2)
    ids = [result["id"] for result in first.json()["results"]]
    assert ids[2] == ids[0]
    old = ChangeEvent.objects.get(idempotency_key="old")
    assert ids[3] == old.pk and old.description == "single"
    assert ChangeEvent.objects.get(idempotency_key="a").description == "first a"
    assert statuses(second) == ["duplicate", "recorded"]
    assert second.json()["results"][0]["id"] == ids[1]
    # old, a, b, the unkeyed one, c: each once.
    assert ChangeEvent.objects.count() == 5
    assert correlation_runs == [4, 1]  # a message per batch, for its new changes


def test_a_batch_is_handed_to_correlation_in_one_message_after_commit(
    client, pipeline, correlation_runs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(client, [{**VALID, "idempotency_key": "seen"}])
    existing = ChangeEvent.objects.get()
    changes = [
        {**VALID, "idempotency_key": "seen"},
        {**VALID, "idempotency_key": "new-1"},
        {**VALID, "idempotency_key": "new-1"},
        {**VALID, "idempotency_key": "new-2"},
        {"description": "invalid"},
        *[VALID] * 248,
    ]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_batch(client, {"changes": changes})

    new_ids = [r["id"] for r in response.json()["results"] if r["status"] == "recorded"]
    assert len(new_ids) == 250 and existing.pk not in new_ids
    assert len(callbacks) == 1  # one hand-off after commit for the whole batch
    assert correlation_runs == [1, 250]  # the first batch's message, then this one's
    assert not ChangeEvent.objects.filter(correlated_at=None).exists()
    existing_after = ChangeEvent.objects.get(pk=existing.pk)
    assert existing_after.correlated_at == existing.correlated_at  # not correlated again


def test_a_real_worker_correlates_a_batch(client, real_worker):
    pipeline_for("alert24")
    response = post_batch(client, [{**VALID, "idempotency_key": f"k-{n}"} for n in range(150)])

    assert response.status_code == 202
    uncorrelated = ChangeEvent.objects.filter(correlated_at=None)
    assert wait_for(lambda: not uncorrelated.exists()), "the worker never correlated the batch"


def test_noise_filters_ignore_changes_with_the_reason(client):
    pipeline_for("alert24", environments=["production"])
    changes = [{**VALID, "environment": "production"}, {**VALID, "environment": "staging"}]

    response = post_batch(client, {"changes": changes})

    assert response.status_code == 202
    assert statuses(response) == ["recorded", "ignored"]
    ignored = response.json()["results"][1]
    assert ignored["id"] is None and "staging" in ignored["reason"]
    assert response.json()["ignored"] == 1 and ChangeEvent.objects.count() == 1
    # A batch of nothing but noise is acknowledged like a single ignored change.
    only_noise = post_batch(client, [{**VALID, "environment": "staging"}])
    assert only_noise.status_code == 200 and statuses(only_noise) == ["ignored"]
    assert Delivery.objects.order_by("id").last().outcome == "ignored"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"changes": []}, "at least one"),
        ([], "at least one"),
        ({}, "required"),
        ({"changes": "x"}, "Expected"),
        ("just a string", "Expected"),
        ({"changes": [VALID] * 1001}, "1001"),
    ],
    ids=["empty", "empty-list", "missing", "not-a-list", "string", "too-many"],
)
def test_a_batch_without_changes_or_with_too_many_is_refused(client, pipeline, body, problem):
    body = assert_error(post_batch(client, body), 400, "invalid", "changes")
    assert problem in body["message"]
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get().status_code == 400


def test_a_thousand_changes_fit_in_one_batch(client, pipeline):
    changes = [{**VALID, "idempotency_key": f"k-{n}"} for n in range(1000)]
    response = post_batch(client, {"changes": changes})

    assert response.status_code == 202 and response.json()["recorded"] == 1000
    assert ChangeEvent.objects.count() == 1000


def test_only_generic_pipelines_take_batches(client):
    pipeline_for("jenkins")  # a key alone lets it in (a signing kind must sign first)

    body = assert_error(post_batch(client, [VALID]), 400, "invalid")
    assert "generic" in body["message"]
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get().outcome == "rejected"


def test_an_unknown_key_is_401_and_a_disabled_pipeline_403(client):
    assert_error(post_batch(client, [VALID]), 401, "unknown_key")
    assert_error(post_raw(client, URL, json.dumps([VALID])), 401, "unknown_key")
    assert not Delivery.objects.exists()
    pipeline_for("alert24", enabled=False)
    assert_error(post_batch(client, [VALID]), 403, "integration_disabled")
    assert not ChangeEvent.objects.exists()


def test_body_over_the_limit_is_413(client, pipeline, settings):
    settings.INGEST_MAX_BODY_BYTES = 1024
    response = post_batch(client, [{**VALID, "description": "x" * 600}] * 2)

    assert_error(response, 413, "body_too_large")
    assert not ChangeEvent.objects.exists()


def test_malformed_json_is_400(client, pipeline):
    response = post_raw(client, URL, b'[{"component": ', {"Authorization": f"Bearer {KEY}"})
    assert_error(response, 400, "malformed_json")


def test_a_batch_is_one_request_for_the_rate_limit(client, pipeline, settings):
    settings.INGEST_RATE_LIMIT = 1
    assert post_batch(client, [VALID] * 5).status_code == 202
    assert_error(post_batch(client, [VALID]), 429, "throttled")
    assert ChangeEvent.objects.count() == 5


def test_a_batch_leaves_one_delivery_record(client, pipeline):
    response = post_batch(client, [VALID, VALID, {"description": "bad"}])

    delivery = Delivery.objects.get()
    first_id = response.json()["results"][0]["id"]
    assert (delivery.pipeline, delivery.event_type, delivery.status_code) == (
        pipeline,
        "batch",
        202,
    )
    assert (delivery.outcome, delivery.object_id) == ("accepted", first_id)
    assert delivery.reason.startswith("2 recorded, 0 duplicate, 1 invalid, 0 ignored")
    assert '"description": "bad"' in delivery.payload


def test_the_idempotency_of_one_pipeline_does_not_reach_another(client, pipeline):
    DeploymentPipelineFactory(key="second-key-0123456789")
    post_batch(client, [{**VALID, "idempotency_key": "same"}])
    other = post_batch(client, [{**VALID, "idempotency_key": "same"}], key="second-key-0123456789")

    assert statuses(other) == ["recorded"]
    assert ChangeEvent.objects.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_keys_store_each_change_once():
    pipeline_for("alert24")
    keys = [f"run-{n}" for n in range(300)]
    # Opposite orders: inserted in this order, the two would deadlock on the unique index.
    bodies = [[{**VALID, "idempotency_key": key} for key in order] for order in (keys, keys[::-1])]
    answers = all_at_once([lambda client, body=body: post_batch(client, body) for body in bodies])

    assert [answer.status_code for answer in answers] == [202, 202]
    assert ChangeEvent.objects.count() == 300
    first, second = (answer.json() for answer in answers)
    assert first["recorded"] + second["recorded"] == 300
    assert first["duplicates"] + second["duplicates"] == 300
    ids = {r["index"]: r["id"] for r in first["results"]}
    assert [ids[299 - r["index"]] for r in second["results"]] == [
        r["id"] for r in second["results"]
    ]


def _batch(size: int, *, prefix: str) -> list[dict]:
    """Half keyed, half not, a few duplicates, and components to resolve."""
    changes = []
    for n in range(size):
        change = {**VALID, "component": ["payments-prod", "search", "other"][n % 3]}
        if n % 2:
            change["idempotency_key"] = f"{prefix}-{n // 4}"  # every key twice
        changes.append(change)
    return changes


def _insert_statements(rows: int) -> int:
    """How many INSERTs a batch needs for `rows` new changes: one on PostgreSQL; SQLite's
    999-parameter limit splits a big batch."""
    if connection.vendor == "postgresql":
        return 1
    fields = [field for field in ChangeEvent._meta.concrete_fields if not field.primary_key]
    return math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows))


# Besides the insert of the changes: the key lookup; in the transaction (a savepoint pair
# inside the test's own transaction), the components with their aliases (1); last_event_at;
# the delivery record; one to spare. No read-back: every key is new. Every 20th delivery also
# trims the delivery log, which costs up to 2 more.
QUERIES = 7
TRIM = 2


def test_the_query_count_does_not_grow_with_the_batch(
    client, pipeline, django_assert_max_num_queries
):
    payments = ComponentFactory(name="payments-service")
    ComponentAliasFactory(component=payments, name="payments-prod")
    ComponentFactory(name="search")
    counts = {}
    for size in (10, 500):
        changes = _batch(size, prefix=str(size))
        keys = {change["idempotency_key"] for change in changes if "idempotency_key" in change}
        unkeyed = sum("idempotency_key" not in change for change in changes)
        inserts = _insert_statements(len(keys) + unkeyed)

        with django_assert_max_num_queries(QUERIES + TRIM + inserts) as captured:
            response = post_batch(client, {"changes": changes})

        assert response.status_code == 202
        assert response.json()["recorded"] == len(keys) + unkeyed
        # Trimming the delivery log and noting last_event_at happen now and then, not per batch.
        occasional = [
            query
            for query in captured.captured_queries
            if ("pipelines_delivery" in query["sql"] and not query["sql"].startswith("INSERT"))
            or '"last_event_at" =' in query["sql"]
        ]
        counts[size] = len(captured) - inserts - len(occasional)

    assert counts[10] == counts[500]
    resolved = ChangeEvent.objects.filter(component="payments-prod", resolved_component=payments)
    assert resolved.count() == ChangeEvent.objects.filter(component="payments-prod").count() > 0


def test_the_schema_describes_the_batch_endpoint_and_stays_valid(tmp_path):
    path = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(path),
    )
    operation = json.loads(path.read_text())["paths"]["/api/v1/changes/batch"]["post"]
    assert operation["operationId"] == "changes_batch_ingest"
    assert set(operation["responses"]) >= {"202", "400", "401", "413"}
