"""What one alert costs the database once the caches are warm: the statements of a new alias,
a repeat and an alert joining a storm, pinned, each with its delivery record stored in the
same transaction.

Transactional: nothing is cached inside a transaction, and pytest's usual per-test transaction
would keep the caches cold (and turn the durable transaction into a savepoint).
"""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import grouping
from incidents.models import Alert, Incident, TimelineEntry
from pipelines.models import Delivery
from tests.conftest import postgres_only
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]

KEY = "round-trips-alert-key-0123456789"
AM_KEY = "round-trips-alertmanager-key-0123"


@pytest.fixture(autouse=True)
def _warm(client):
    payments, search = TeamFactory(slug="payments"), TeamFactory(slug="search")
    ComponentFactory(name="payments-service", owner_team=payments)
    ComponentFactory(name="search-api", owner_team=search)
    AlertSourceFactory(kind="generic", key=KEY, team=payments)
    # Another team's: its storms never meet the incidents API's incidents.
    AlertSourceFactory(kind="alertmanager", key=AM_KEY, team=search)
    # The caches: each source by its key, and the component catalog.
    assert raise_alert(client, "warm-up").status_code == 202
    assert alertmanager(client, "warm-up").status_code == 202


def raise_alert(client, alias):
    return client.post(
        "/api/v1/incidents",
        {"title": f"Payments down ({alias})", "alias": alias, "components": ["payments-service"]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {KEY}"},
    )


def alertmanager(client, fingerprint, severity="warning"):
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighLatency", "service": "search-api", "severity": severity},
        "annotations": {"summary": f"p99 latency ({fingerprint})"},
        "startsAt": "2026-11-20T13:57:45Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    return client.post(
        "/api/v1/alerts",
        json.dumps({"status": "firing", "alerts": [alert]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {AM_KEY}"},
    )


def ingest_statements(captured: CaptureQueriesContext) -> list[str]:
    """The request's own statements, up to the one storing its delivery record (then come the
    commit, and in tests correlation, run eagerly, and now and then trimming the log), each as
    its verb and tables."""
    statements = [_shape(query["sql"]) for query in captured.captured_queries]
    last = next(index for index, shape in enumerate(statements) if "pipelines_delivery" in shape)
    return statements[: last + 1]


def _shape(sql: str) -> str:
    """A statement as its verb and tables: `SELECT incidents_alert`, `INSERT a b` (one
    statement inserting into both), `SELECT pg_advisory_xact_lock`."""
    if sql.startswith("WITH "):  # common.rows.insert_rows: the tables it inserts into
        tables = [part.split()[0].strip('"') for part in sql.split("INSERT INTO ")[1:]]
        return "INSERT " + " ".join(tables)
    verb = sql.split()[0]
    table = re.search(r'(?:FROM|UPDATE|INTO) "?(\w+)', sql)
    return f"{verb} {table.group(1)}" if table else sql.split("(")[0]


def test_a_new_alias_is_two_statements_and_its_delivery_record(client):
    with CaptureQueriesContext(connection) as captured:
        response = raise_alert(client, "payments-down")

    assert response.status_code == 202
    assert ingest_statements(captured) == [
        "BEGIN",
        "SELECT incidents_alert",  # the alias's firing alert, locked with its incident: none
        "INSERT incidents_incident incidents_alert incidents_incidentcomponent",
        "INSERT incidents_timelineentry pipelines_delivery",
    ]
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.components.get().component.name == "payments-service"
    assert TimelineEntry.objects.get(incident=incident).kind == TimelineEntry.Kind.ALERT
    delivery = Delivery.objects.latest("pk")
    assert (delivery.object_id, delivery.status_code) == (incident.pk, 202)
    assert delivery.reason == "payments-down: raised"


def test_a_repeat_is_three_statements_with_its_delivery_record(client):
    first = raise_alert(client, "payments-down").json()["id"]

    with CaptureQueriesContext(connection) as captured:
        response = raise_alert(client, "payments-down")

    assert response.json()["action"] == "repeat" and response.json()["id"] == first
    assert ingest_statements(captured) == [
        "BEGIN",
        "SELECT incidents_alert",  # the alias's firing alert, locked with its incident
        "UPDATE incidents_incident",
        "INSERT incidents_timelineentry pipelines_delivery",
    ]
    # Then the commit, and nothing else (a repeat hands nothing to correlation) but, for every
    # TRIM_EVERY-th record, trimming the log.
    after = [_shape(query["sql"]) for query in captured.captured_queries[4:]]
    assert after[0] == "COMMIT"
    assert set(after[1:]) <= {"SELECT pipelines_delivery", "DELETE pipelines_delivery"}
    incident = Incident.objects.get(pk=first)
    assert incident.repeat_count == 1
    assert list(incident.timeline.values_list("kind", flat=True)) == ["alert", "repeat"]
    assert Delivery.objects.latest("pk").reason == "payments-down: repeat"


def test_an_alert_joining_a_storm_reads_its_first_alert_not_all_of_them(client):
    storm = alertmanager(client, "0000000000000001").json()["id"]
    for number in range(2, 6):
        assert alertmanager(client, f"000000000000000{number}").json()["id"] == storm

    with CaptureQueriesContext(connection) as captured:
        response = alertmanager(client, "0000000000000006", severity="critical")

    assert response.json()["results"][0]["action"] == "grouped"
    assert ingest_statements(captured) == [
        "BEGIN",
        "SELECT pg_advisory_xact_lock",  # storms are grouped one request at a time
        "SELECT incidents_alert",  # the alias's firing alert: none
        "SELECT incidents_incident",  # the open incident of the storm, locked
        "INSERT incidents_alert",
        "SELECT incidents_alert",  # its first alert's title (by index), and its components
        "UPDATE incidents_incident",
        "INSERT incidents_timelineentry pipelines_delivery",
    ]
    incident = Incident.objects.get(pk=storm)
    assert incident.alert_count == Alert.objects.filter(incident=incident).count() == 7
    assert (incident.title, incident.severity) == ("p99 latency (warm-up) and 6 more", "critical")
    # What reading every alert of the storm would have set.
    following = Incident.objects.get(pk=storm)
    grouping.follow_alerts(following)
    assert (following.alert_count, following.title, following.severity) == (
        incident.alert_count,
        incident.title,
        incident.severity,
    )
