"""The incidents API: read with a person's token or the source's key; acknowledge, resolve,
reopen and add notes the way Alert24 scripts and people do."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from incidents.models import Incident, SuspectChange
from pipelines.models import Delivery
from teams.services import create_api_token
from tests.changes.factories import ChangeEventFactory
from tests.conftest import all_at_once, postgres_only
from tests.incidents.factories import IncidentFactory, TimelineEntryFactory
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    _, token = create_api_token(user=UserFactory(username="responder"), scope="write")
    return token


def call(client, method: str, url: str, credentials: str, body: dict | None = None):
    return client.generic(
        method,
        url,
        json.dumps(body or {}),
        content_type="application/json",
        headers={"Authorization": credentials},
    )


def test_list_and_detail_with_a_token(client, token):
    open_incident = IncidentFactory(alias="cloudwatch-HighErrorRate")
    IncidentFactory(status="resolved")
    TimelineEntryFactory(incident=open_incident)

    listing = call(client, "GET", "/api/v1/incidents?status=open", f"Token {token}").json()
    assert [row["id"] for row in listing["results"]] == [open_incident.pk]
    by_alias = call(
        client, "GET", "/api/v1/incidents?alias=cloudwatch-HighErrorRate", f"Token {token}"
    ).json()
    assert [row["id"] for row in by_alias["results"]] == [open_incident.pk]
    detail = call(client, "GET", f"/api/v1/incidents/{open_incident.pk}", f"Token {token}").json()
    assert detail["alias"] == "cloudwatch-HighErrorRate" and len(detail["timeline"]) == 1


def test_a_source_key_sees_only_its_own_incidents(client):
    source = AlertSourceFactory(key="source-one-key-0123")
    mine = IncidentFactory(alert_source=source)
    theirs = IncidentFactory()

    listing = call(client, "GET", "/api/v1/incidents", "Bearer source-one-key-0123").json()
    assert [row["id"] for row in listing["results"]] == [mine.pk]
    assert (
        call(
            client, "GET", f"/api/v1/incidents/{theirs.pk}", "Bearer source-one-key-0123"
        ).status_code
        == 404
    )
    assert (
        call(
            client,
            "PUT",
            f"/api/v1/incidents/{theirs.pk}",
            "Bearer source-one-key-0123",
            {"status": "resolved"},
        ).status_code
        == 404
    )


def test_no_credentials_or_wrong_ones_are_401(client):
    incident = IncidentFactory()
    assert client.get("/api/v1/incidents").status_code == 401
    assert call(client, "GET", "/api/v1/incidents", "Bearer nope").status_code == 401
    assert (
        call(
            client, "PUT", f"/api/v1/incidents/{incident.pk}", "Token nope", {"status": "resolved"}
        ).status_code
        == 401
    )


def test_people_acknowledge_resolve_reopen_and_note(client, token):
    incident = IncidentFactory()
    url = f"/api/v1/incidents/{incident.pk}"

    assert (
        call(client, "PATCH", url, f"Token {token}", {"status": "acknowledged"}).json()["status"]
        == "acknowledged"
    )
    resolved = call(client, "PUT", url, f"Token {token}", {"status": "resolved"}).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    conflict = call(client, "PUT", url, f"Token {token}", {"status": "acknowledged"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "invalid_transition"
    assert (
        call(client, "PUT", url, f"Token {token}", {"status": "triggered"}).json()["status"]
        == "triggered"
    )
    note = call(client, "POST", f"{url}/notes", f"Token {token}", {"text": "rolled back v2.14.1"})
    assert note.status_code == 201

    incident.refresh_from_db()
    entries = list(incident.timeline.values_list("kind", "actor"))
    assert entries == [
        ("acknowledged", "responder"),
        ("resolved", "responder"),
        ("reopened", "responder"),
        ("note", "responder"),
    ]
    assert incident.timeline.get(kind="note").data == {"text": "rolled back v2.14.1"}


@pytest.mark.parametrize("body", [{}, {"status": "exploded"}, {"status": 3}])
def test_bad_status_is_400_naming_status(client, token, body):
    incident = IncidentFactory()
    response = call(client, "PUT", f"/api/v1/incidents/{incident.pk}", f"Token {token}", body)
    assert response.status_code == 400 and "status" in response.json()["fields"]


def test_empty_note_is_400(client, token):
    incident = IncidentFactory()
    response = call(
        client, "POST", f"/api/v1/incidents/{incident.pk}/notes", f"Token {token}", {"text": "  "}
    )
    assert response.status_code == 400


def test_the_source_key_resolves_and_leaves_a_delivery_record(client):
    source = AlertSourceFactory(key="source-two-key-0123")
    incident = IncidentFactory(alert_source=source)
    response = call(
        client,
        "PUT",
        f"/api/v1/incidents/{incident.pk}",
        "Bearer source-two-key-0123",
        {"status": "resolved"},
    )
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.timeline.get().actor == source.name
    assert Delivery.objects.get(alert_source=source).object_id == incident.pk


@pytest.mark.parametrize("count", [3, 40])
def test_list_costs_constant_queries(client, token, count, django_assert_max_num_queries):
    IncidentFactory.create_batch(count)
    with django_assert_max_num_queries(5):
        assert call(client, "GET", "/api/v1/incidents", f"Token {token}").status_code == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_alerts_of_one_alias_make_one_incident():
    AlertSourceFactory(kind="generic", key="race-key-0123456789")
    body = json.dumps({"title": "Checkout down", "alias": "checkout-down", "severity": "critical"})

    def post(client: Client) -> dict:
        response = client.post(
            "/api/v1/incidents",
            body,
            content_type="application/json",
            headers={"Authorization": "Bearer race-key-0123456789"},
        )
        return response.json()

    answers = all_at_once([post] * 8)

    incident = Incident.objects.get(alias="checkout-down")
    assert sorted(answer["action"] for answer in answers) == ["raised"] + ["repeat"] * 7
    assert {answer["id"] for answer in answers} == {incident.pk}
    assert incident.repeat_count == 7


def test_schema_lists_the_alert_endpoints(client, token):
    schema = call(client, "GET", "/api/schema/?format=json", f"Token {token}").json()
    paths = (
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/notes",
        "/api/v1/alerts",
        "/api/v1/alert-sources/{key}/alerts",
        "/v2/enqueue",
    )
    for path in paths:
        assert path in schema["paths"], path


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


@pytest.mark.parametrize("count", [2, 30])
def test_detail_names_every_report_of_its_suspects_in_constant_queries(
    client, token, count, django_assert_max_num_queries
):
    incident = IncidentFactory()
    for number in range(count):
        first = ChangeEventFactory()
        ChangeEventFactory(same_as=first)  # a second pipeline's report of the same rollout
        SuspectChange.objects.create(incident=incident, change=first, rank=number + 1, score=1)

    with django_assert_max_num_queries(12):
        response = call(client, "GET", f"/api/v1/incidents/{incident.pk}", f"Token {token}")

    suspects = response.json()["suspects"]
    assert len(suspects) == count
    assert all(len(suspect["change"]["reports"]) == 2 for suspect in suspects)
