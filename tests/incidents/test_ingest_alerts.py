"""Each alert producer's story, replayed in order through its real endpoint, with the clock
at each request's `received_at`."""

import json
from datetime import timedelta

import pytest
import time_machine

from common.times import parse_timestamp
from incidents.models import Incident, TimelineEntry
from pipelines.models import Delivery, SnsSubscription
from tests.fixtures import fixture_names, load_fixture
from tests.incidents.ingest import KINDS, install_sns_certificate, send, source_for, url_for

pytestmark = pytest.mark.django_db

ACTIONS = {
    "raise": "raised",
    "repeat": "repeat",
    "resolve": "resolved",
    "acknowledge": "acknowledged",
    "reopen": "reopened",
}


@pytest.fixture(autouse=True)
def sns_certificates(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)


def check_incident(expect: dict, row: dict | None = None) -> Incident:
    incident = (
        Incident.objects.get(alias=expect["alias"], pk=row["id"])
        if row
        else (Incident.objects.filter(alias=expect["alias"]).latest("id"))
    )
    assert incident.status == expect["status"]
    for field in ("severity", "title"):
        if field in expect:
            assert getattr(incident, field) == expect[field], field
    if "components" in expect:
        assert sorted(c.name for c in incident.components.all()) == sorted(expect["components"])
    if "tags" in expect:
        assert incident.tags == expect["tags"]
    if "started_at" in expect:
        assert incident.started_at == parse_timestamp(expect["started_at"])
    return incident


@pytest.mark.parametrize("producer", sorted(KINDS))
def test_story_replays_as_expected(client, producer):
    names = fixture_names(producer)
    source = source_for(producer, load_fixture(producer, names[0]))
    incident_id = None

    for name in names:
        fixture = load_fixture(producer, name)
        expect = fixture["expect"]
        with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
            response = send(client, fixture, url_for(fixture, incident_id))
        assert response.status_code in (200, 202), (name, response.content)
        body = response.json()
        delivery = Delivery.objects.filter(alert_source=source).latest("id")

        if "incidents" in expect:  # Alertmanager and Grafana: one result per alert
            assert [row["action"] for row in body["results"]] == [
                ACTIONS[item["action"]] for item in expect["incidents"]
            ], name
            for item, row in zip(expect["incidents"], body["results"], strict=True):
                check_incident(item, row)
        elif expect["action"] == "ignore":
            assert body["action"] == "ignored", name
            assert delivery.outcome == "ignored" and delivery.reason == expect["reason"], name
        elif expect["action"] == "confirm_subscription":
            subscription = SnsSubscription.objects.get(alert_source=source)
            assert subscription.subscribe_url == expect["subscribe_url"]
            assert subscription.topic_arn == expect["topic_arn"]
            assert subscription.confirmed_at is None  # nothing fetched
            assert body["action"] == "confirm_subscription"
        elif fixture.get("method") == "PUT":  # Alert24's resolve call
            assert body["status"] == expect["status"] and body["alias"] == expect["alias"]
            check_incident(expect)
        else:
            assert body["action"] == ACTIONS[expect["action"]], name
            incident = check_incident(expect)
            assert body["id"] == incident.pk and body["status"] == incident.status
            incident_id = incident.pk


def test_insufficient_data_raises_at_medium_when_the_source_says_so(client):
    fixture = load_fixture("sns_cloudwatch", "04_insufficient_data")
    source_for("sns_cloudwatch", fixture, insufficient_data="raise")
    expected = fixture["expect"]["when_source_raises_insufficient_data"]

    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        response = send(client, fixture, url_for(fixture))

    assert response.status_code == 202 and response.json()["action"] == "raised"
    check_incident({**expected, "alias": fixture["expect"]["alias"]})


@pytest.mark.parametrize("producer", ["sns_cloudwatch", "eventbridge", "pagerduty_events"])
def test_a_redelivered_message_changes_nothing(client, producer):
    fixture = next(
        load_fixture(producer, name)
        for name in fixture_names(producer)
        if load_fixture(producer, name)["expect"].get("action") == "raise"
    )
    source_for(producer, fixture)
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        first = send(client, fixture, url_for(fixture)).json()
        second = send(client, fixture, url_for(fixture)).json()

    incident = Incident.objects.get()
    assert first["id"] == second["id"] == incident.pk
    if producer == "pagerduty_events":  # no message id: a second trigger is a repeat
        assert second["action"] == "repeat" and incident.repeat_count == 1
    else:  # SNS MessageId, EventBridge event id: the retry is the same message
        assert second["action"] == "raised" and incident.repeat_count == 0
        assert TimelineEntry.objects.filter(incident=incident).count() == 1


def test_flapping_alarm_reopens_inside_the_reopen_window(client):
    alarm = load_fixture("eventbridge", "01_alarm_state_change_alarm")
    ok = load_fixture("eventbridge", "02_alarm_state_change_ok")
    source_for("eventbridge", alarm, reopen_window_minutes=10)
    at = parse_timestamp(ok["received_at"])

    with time_machine.travel(parse_timestamp(alarm["received_at"]), tick=False):
        send(client, alarm, url_for(alarm))
    with time_machine.travel(at, tick=False):
        send(client, ok, url_for(ok))
    # The same alarm again five minutes later, as a new EventBridge event.
    again = alarm["body"].replace(alarm_id(alarm), "0f0e0d0c-aaaa-bbbb-cccc-000000000001")
    with time_machine.travel(at + timedelta(minutes=5), tick=False):
        response = send(client, alarm, url_for(alarm), body=again)

    assert response.json()["action"] == "reopened"
    incident = Incident.objects.get()
    assert incident.status == "triggered"
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == ["alert", "resolved", "reopened"]


def test_after_the_reopen_window_a_new_incident_opens(client):
    alarm = load_fixture("eventbridge", "01_alarm_state_change_alarm")
    ok = load_fixture("eventbridge", "02_alarm_state_change_ok")
    source_for("eventbridge", alarm, reopen_window_minutes=10)
    with time_machine.travel(parse_timestamp(alarm["received_at"]), tick=False):
        send(client, alarm, url_for(alarm))
    with time_machine.travel(parse_timestamp(ok["received_at"]), tick=False):
        send(client, ok, url_for(ok))
    later = parse_timestamp(ok["received_at"]) + timedelta(hours=2)
    again = alarm["body"].replace(alarm_id(alarm), "0f0e0d0c-aaaa-bbbb-cccc-000000000002")
    with time_machine.travel(later, tick=False):
        response = send(client, alarm, url_for(alarm), body=again)

    assert response.json()["action"] == "raised"
    assert Incident.objects.count() == 2


def alarm_id(fixture: dict) -> str:
    return json.loads(fixture["body"])["id"]
