"""Ingest's hot lookups (integration by key, component by name) are cached between requests,
and every change to what they cached takes effect on the very next request.

Transactional: nothing is cached inside a transaction, and pytest's usual per-test transaction
would keep these tests from ever filling the caches.
"""

import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.models import ChangeEvent
from changes.services import CORRELATION_REQUESTED
from pipelines import services
from pipelines.deliveries import TRIM_EVERY
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_json
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
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert [s for s in statements if s not in ("BEGIN", "COMMIT")] == ["INSERT", "INSERT"]
    assert "changes_changeevent" in captured.captured_queries[-3]["sql"]
    assert "pipelines_delivery" in captured.captured_queries[-1]["sql"]


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
