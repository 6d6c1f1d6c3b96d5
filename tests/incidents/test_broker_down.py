"""Ingest must not depend on the broker: with Celery's broker on a closed port, changes and
alerts are still stored and answered 2xx; the sweep correlates them once it is back."""

import time

import pytest
from celery.result import allow_join_result

from changes.models import ChangeEvent
from config.celery import app
from incidents import tasks
from incidents.models import Incident, SuspectChange
from tests.changes.ingest import post_json
from tests.incidents.ingest import KEY as ALERT_KEY
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory

CLOSED_PORT_BROKER = "redis://127.0.0.1:9/0"  # nothing listens on the discard port here


@pytest.fixture
def broker_down(transactional_db):
    original = app.conf.broker_url
    app.conf.update(broker_url=CLOSED_PORT_BROKER, task_always_eager=False)
    app._pool = None  # forget connections to the real broker
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.update(broker_url=original, task_always_eager=True)
        app._pool = None
        app.amqp._producer_pool = None


def test_ingest_answers_and_stores_with_the_broker_down_and_the_sweep_catches_up(
    broker_down, client, caplog
):
    DeploymentPipelineFactory(key="ci-key-0123456789")
    AlertSourceFactory(kind="generic", key=ALERT_KEY)

    started = time.monotonic()
    change = post_json(
        client,
        {"component": "payments-service", "description": "Deploy v2"},
        key="ci-key-0123456789",
    )
    alert = client.post(
        "/api/v1/incidents",
        {"title": "Payments down", "alias": "payments-down", "components": ["payments-service"]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {ALERT_KEY}"},
    )
    elapsed = time.monotonic() - started

    assert (change.status_code, alert.status_code) == (202, 202)
    # The hand-offs to correlation really did fail (and were only logged).
    failures = [r for r in caplog.records if "on_commit" in r.getMessage()]
    assert len(failures) == 2, [r.getMessage() for r in caplog.records]
    assert elapsed < 10, "a dead broker must not hold ingest for long"
    stored = ChangeEvent.objects.get(pk=change.json()["id"])
    incident = Incident.objects.get(pk=alert.json()["id"])
    assert stored.correlated_at is None and incident.correlated_at is None

    # The broker is back: beat's sweep finds what was never correlated.
    app.conf.task_always_eager = True
    # Allowed to wait: a real worker started earlier in this test process (another test's)
    # may have left the process marked as one where waiting would block a worker.
    with allow_join_result():
        assert tasks.sweep.delay().get() == (1, 1)
    assert SuspectChange.objects.filter(incident=incident, change=stored).exists()
