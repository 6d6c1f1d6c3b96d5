"""Every change producer's fixture through its real endpoint, checked against `expect`."""

import pytest

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.models import Delivery
from tests.adapters import LIFECYCLE_ONLY
from tests.changes.ingest import PRODUCERS, pipeline_for, post_fixture
from tests.fixtures import fixture_names, load_fixture

pytestmark = pytest.mark.django_db

CASES = [(producer, name) for producer in PRODUCERS for name in fixture_names(producer)]
# Fixtures whose producer sends its own delivery id, so a retry carries it again.
REDELIVERED = [case for case in CASES if "idempotency_key" in load_fixture(*case)["expect"]]


@pytest.mark.parametrize(("producer", "name"), CASES)
def test_fixture_is_stored_as_expected(client, producer, name):
    fixture = load_fixture(producer, name)
    expect = fixture["expect"]
    pipeline = pipeline_for(producer)

    response = post_fixture(client, producer, fixture)

    delivery = Delivery.objects.get(pipeline=pipeline)
    if "status" in expect:  # refused, such as a bad signature
        assert response.status_code == expect["status"], response.content
        assert set(response.json()) == {"code", "message", "fields"}
        assert not ChangeEvent.objects.exists()
        assert (delivery.outcome, delivery.status_code) == ("rejected", expect["status"])
        return
    if expect["action"] == "ignore":
        assert response.status_code == 200, response.content
        assert response.json() == {"status": "ignored", "reason": expect["reason"]}
        assert not ChangeEvent.objects.exists()
        assert (delivery.outcome, delivery.reason) == ("ignored", expect["reason"])
        return

    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    for field, expected in expect.items():
        if field in LIFECYCLE_ONLY:
            continue
        stored = getattr(change, field)
        if field == "occurred_at":
            assert stored == parse_timestamp(expected), field
        elif field in ("commit", "idempotency_key"):
            assert stored == expected, field
        else:
            assert str(stored).lower() == str(expected).strip().lower(), field
    assert change.pipeline == pipeline
    assert (delivery.outcome, delivery.status_code, delivery.object_id) == (
        "accepted",
        202,
        change.pk,
    )
    assert delivery.size == len(fixture["body"].encode())


@pytest.mark.parametrize(("producer", "name"), REDELIVERED)
def test_redelivery_creates_nothing(client, producer, name):
    fixture = load_fixture(producer, name)
    pipeline_for(producer)

    first = post_fixture(client, producer, fixture)
    second = post_fixture(client, producer, fixture)

    assert second.status_code == 202
    assert second.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1
