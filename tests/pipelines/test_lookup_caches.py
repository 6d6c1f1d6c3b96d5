"""Ingest's hot lookups (integration by key, component by name) are cached between requests,
and every change to what they cached takes effect on the very next request.

Transactional: nothing is cached inside a transaction, and pytest's usual per-test transaction
would keep these tests from ever filling the caches.
"""

import os

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.models import ChangeEvent
from changes.services import CORRELATION_REQUESTED
from pipelines import services
from pipelines.deliveries import TRIM_EVERY
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_json
from tests.conftest import postgres_only
from tests.fixtures import load_fixture
from tests.teams.factories import ComponentAliasFactory, ComponentFactory

pytestmark = pytest.mark.django_db(transaction=True)

VALID = {"component": "payments-prod", "description": "Deploy v1.2.3"}


@pytest.fixture(autouse=True)
def _production_cache(request):
    """On the real Redis where there is one (CI), as in production; else in memory."""
    if os.environ.get("REDIS_URL"):
        request.getfixturevalue("redis_cache")


@pytest.fixture
def pipeline():
    return pipeline_for("alert24")


def test_with_warm_caches_an_ingest_writes_and_reads_nothing_else(client, pipeline):
    ComponentFactory(name="payments-prod")
    post_json(client, VALID)  # fills the caches
    cache.set(CORRELATION_REQUESTED, 1)  # the worker is asked already: no message, no task
    # Every TRIM_EVERY-th delivery also trims the log (a SELECT): not the one measured here.
    while (Delivery.objects.latest("pk").pk + 1) % TRIM_EVERY == 0:
        post_json(client, VALID)

    with CaptureQueriesContext(connection) as captured:
        response = post_json(client, VALID)

    assert response.status_code == 202
    statements = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        # One statement in autocommit, no transaction around it: the change and its delivery
        # record, inserted together.
        (statement,) = statements
        assert statement.startswith("WITH ")
        assert 'INSERT INTO "changes_changeevent"' in statement
        assert 'INSERT INTO "pipelines_delivery"' in statement
    else:  # SQLite's WITH takes no INSERT: the two, in one transaction
        inserts = [sql for sql in statements if sql.split()[0] not in ("BEGIN", "COMMIT")]
        assert [sql.split()[2] for sql in inserts] == [
            '"changes_changeevent"',
            '"pipelines_delivery"',
        ]
    delivery = Delivery.objects.latest("pk")
    assert delivery.object_id == response.json()["id"]
    assert (delivery.status_code, delivery.outcome) == (202, Delivery.Outcome.ACCEPTED)


def test_with_warm_caches_an_ingest_asks_the_cache_twice(
    client, pipeline, redis_cache, monkeypatch
):
    post_json(client, VALID)  # fills the caches
    cache.set(CORRELATION_REQUESTED, 1)  # the worker is asked already: no message, no task
    sent = []
    send = redis.connection.Connection.send_packed_command

    def counted(connection, command, *args, **kwargs):  # the real client, counted
        sent.append(command)
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    response = post_json(client, VALID)

    assert response.status_code == 202
    # One round trip before: the pipeline by its key, its rate-limit count, the catalog's
    # version and whether its last event was noted lately. One after the commit: asking for
    # correlation (SET NX; here someone has asked already: no message).
    assert len(sent) == 2, sent


def test_requests_are_counted_in_the_lookups_round_trip_and_made_up_keys_are_not(
    client, pipeline, settings
):
    settings.INGEST_RATE_LIMIT = 3
    post_json(client, VALID)  # fills the caches, and counts

    statuses = [post_json(client, VALID).status_code for _ in range(3)]
    made_up = [post_json(client, VALID, key=f"made-up-{n}").status_code for n in range(5)]

    assert statuses == [202, 202, 429]
    assert made_up == [401] * 5
    counters = [key for key in _cache_keys() if "ingest-rate:deploymentpipeline:" in key]
    assert len(counters) == 1, counters  # the pipeline's: none for the keys nobody has


def _cache_keys() -> list[str]:
    if os.environ.get("REDIS_URL"):
        return [key.decode() for key in cache._cache.get_client().keys("*")]
    return list(cache._cache)


@postgres_only  # SQLite's WITH takes no INSERT
def test_a_report_of_a_change_is_stored_with_its_delivery_record_under_the_change_lock(client):
    pipeline_for("github")
    start = load_fixture("github", "deployment_status_queued_start")
    finish = load_fixture("github", "deployment_status_success_same_deployment")
    warm = post_fixture(client, "github", load_fixture("github", "push_default_branch"))
    assert warm.status_code == 202  # the key, the catalog, the last event: cached or noted
    cache.set(CORRELATION_REQUESTED, 1)

    with CaptureQueriesContext(connection) as captured:
        recorded = post_fixture(client, "github", start)
    # The lifecycle's lock on the deployment (none yet), then the new change and its delivery
    # record in one statement, in one transaction.
    statements = [query["sql"] for query in captured.captured_queries]
    updated = post_fixture(client, "github", finish)
    again = post_fixture(client, "github", finish)

    assert [response.json()["status"] for response in (recorded, updated, again)] == [
        "recorded",
        "updated",
        "duplicate",
    ]
    begin, locked, inserted, commit = statements
    assert (begin, commit) == ("BEGIN", "COMMIT")
    assert "FOR UPDATE" in locked
    assert inserted.startswith("WITH ") and "pipelines_delivery" in inserted
    # Every request has its record: the later ones written after their answer was decided.
    change_id = recorded.json()["id"]
    assert list(Delivery.objects.order_by("pk").values_list("object_id", "reason")[1:]) == [
        (change_id, ""),
        (change_id, "a later report of a known change: now succeeded"),
        (change_id, "duplicate delivery: the first one was kept"),
    ]


def test_a_rotated_key_stops_working_at_once(client, pipeline):
    assert post_json(client, VALID).status_code == 202

    new_key = services.rotate_key(integration=pipeline, by="system")

    assert post_json(client, VALID).status_code == 401
    assert post_json(client, VALID, key=new_key).status_code == 202
    newer_key = services.rotate_key(integration=pipeline, by="system")
    assert post_json(client, VALID, key=new_key).status_code == 401
    assert post_json(client, VALID, key=newer_key).status_code == 202


def test_disabling_and_deleting_take_effect_at_once(client, pipeline):
    assert post_json(client, VALID).status_code == 202

    services.set_enabled(integration=pipeline, enabled=False, by="system")
    assert post_json(client, VALID).status_code == 403
    services.set_enabled(integration=pipeline, enabled=True, by="system")
    assert post_json(client, VALID).status_code == 202
    services.delete_integration(integration=pipeline, by="system")
    assert post_json(client, VALID, key=KEY).status_code == 401


def test_a_new_alias_resolves_the_next_change(client, pipeline):
    payments = ComponentFactory(name="payments-service")
    first = post_json(client, VALID).json()["id"]
    assert ChangeEvent.objects.get(pk=first).resolved_component_id is None

    ComponentAliasFactory(component=payments, name="payments-prod")
    second = post_json(client, VALID).json()["id"]

    assert ChangeEvent.objects.get(pk=second).resolved_component_id == payments.pk


def test_a_deleted_component_is_not_resolved_any_more(client, pipeline):
    payments = ComponentFactory(name="payments-prod")
    post_json(client, VALID)
    payments.delete()

    response = post_json(client, VALID)

    assert response.status_code == 202
    assert ChangeEvent.objects.get(pk=response.json()["id"]).resolved_component_id is None


def test_ingest_works_with_the_cache_unreachable(client, pipeline, settings):
    ComponentFactory(name="payments-prod")
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }

    responses = [post_json(client, VALID) for _ in range(2)]

    assert [response.status_code for response in responses] == [202, 202]
    assert ChangeEvent.objects.filter(resolved_component__name="payments-prod").count() == 2
