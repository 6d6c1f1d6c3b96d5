"""Redeliveries that arrive at the same instant, on separate connections: a producer retrying
while its first request is still in flight, or two web processes taking the same message.

Each request runs in its own thread with its own database connection, released together by a
barrier, so the unique indexes and row locks decide (not the order the test sends them in).
"""

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client

from changes.models import ChangeEvent
from common.times import parse_timestamp
from incidents.models import AlertReceipt, Incident, TimelineEntry
from teams.models import Membership
from teams.services import remove_member
from tests.changes.ingest import pipeline_for, post_fixture, post_json
from tests.conftest import all_at_once, postgres_only
from tests.fixtures import load_fixture
from tests.incidents.ingest import install_sns_certificate, send, source_for, url_for
from tests.teams.factories import ComponentFactory, MembershipFactory, TeamFactory

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

SENDERS = 8


def test_a_github_delivery_sent_eight_times_at_once_is_one_change():
    fixture = load_fixture("github", "deployment_status_success")
    pipeline_for("github")

    answers = all_at_once([lambda client: post_fixture(client, "github", fixture)] * SENDERS)

    assert [answer.status_code for answer in answers] == [202] * SENDERS
    change = ChangeEvent.objects.get()
    assert {answer.json()["id"] for answer in answers} == {change.pk}
    assert sorted(answer.json()["status"] for answer in answers) == ["duplicate"] * (
        SENDERS - 1
    ) + ["recorded"]


def test_eight_reports_of_one_rollout_at_once_make_one_change_with_its_final_status():
    """A rollout's start, progress and finish, each from another worker of the producer."""
    pipeline_for("alert24")
    start = parse_timestamp("2026-11-20T14:00:00Z")
    bodies = [
        {
            "component": "payments-service",
            "deployment_id": "rollout-81",
            "outcome": "succeeded" if minute == SENDERS - 1 else "started",
            "occurred_at": (start + timedelta(minutes=minute)).isoformat(),
            "idempotency_key": f"report-{minute}",
        }
        for minute in range(SENDERS)
    ]

    answers = all_at_once([lambda client, body=body: post_json(client, body) for body in bodies])

    assert [answer.status_code for answer in answers] == [202] * SENDERS
    change = ChangeEvent.objects.get()
    assert {answer.json()["id"] for answer in answers} == {change.pk}
    assert sorted(answer.json()["status"] for answer in answers) == ["recorded"] + ["updated"] * (
        SENDERS - 1
    )
    assert (change.outcome, change.started_at, change.finished_at) == (
        "succeeded",
        start,
        start + timedelta(minutes=SENDERS - 1),
    )
    assert len(change.transitions) == SENDERS


def test_a_github_start_and_finish_each_sent_four_times_at_once_are_one_change():
    pipeline_for("github")
    start = load_fixture("github", "deployment_status_queued_start")
    finish = load_fixture("github", "deployment_status_success_same_deployment")
    requests = [
        lambda client, fixture=fixture: post_fixture(client, "github", fixture)
        for fixture in [start, finish] * (SENDERS // 2)
    ]

    answers = all_at_once(requests)

    assert [answer.status_code for answer in answers] == [202] * SENDERS
    change = ChangeEvent.objects.get()
    assert sorted(answer.json()["status"] for answer in answers) == ["duplicate"] * (
        SENDERS - 2
    ) + ["recorded", "updated"]
    assert change.outcome == "succeeded"
    assert change.started_at == parse_timestamp(start["expect"]["occurred_at"])
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


def test_an_sns_message_delivered_eight_times_at_once_is_one_incident(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)
    fixture = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source_for("sns_cloudwatch", fixture)

    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        answers = all_at_once([lambda client: send(client, fixture, url_for(fixture))] * SENDERS)

    assert [answer.status_code for answer in answers] == [202] * SENDERS
    incident = Incident.objects.get()
    # The same MessageId: every copy answers what the first did, and nothing repeats.
    assert [answer.json()["action"] for answer in answers] == ["raised"] * SENDERS
    assert {answer.json()["id"] for answer in answers} == {incident.pk}
    assert incident.repeat_count == 0
    assert AlertReceipt.objects.count() == 1
    assert TimelineEntry.objects.filter(incident=incident).count() == 1


def test_alertmanager_groups_in_either_order_at_once_make_one_incident_per_alert():
    """Alertmanager resends a firing group on every repeat interval, and two of its replicas
    may each send one; the alerts of a group may come in either order."""
    fixture = load_fixture("alertmanager", "01_firing_two_alerts")
    source_for("alertmanager", fixture)
    payload = json.loads(fixture["body"])
    reversed_body = json.dumps({**payload, "alerts": payload["alerts"][::-1]})
    bodies = [fixture["body"], reversed_body] * (SENDERS // 2)

    answers = all_at_once(
        [
            lambda client, body=body: send(client, fixture, url_for(fixture), body=body)
            for body in bodies
        ]
    )

    assert [answer.status_code for answer in answers] == [202] * SENDERS, [
        answer.content for answer in answers
    ]
    expected = {item["alias"] for item in fixture["expect"]["incidents"]}
    incidents = Incident.objects.all()
    assert {incident.alias for incident in incidents} == expected
    for incident in incidents:
        actions = [
            row["action"]
            for answer in answers
            for row in answer.json()["results"]
            if row["id"] == incident.pk
        ]
        assert sorted(actions) == ["raised"] + ["repeat"] * (SENDERS - 1)
        assert incident.repeat_count == SENDERS - 1


def test_two_admins_removing_each_other_at_once_leave_one_admin():
    team = TeamFactory()
    admins = [MembershipFactory(team=team, role="admin") for _ in range(2)]

    def remove_the_other(number: int) -> Callable[[Client], str]:
        def remove(_: Client) -> str:
            try:
                remove_member(by=admins[number].user, membership=admins[1 - number])
            except Exception as error:
                return type(error).__name__
            return "removed"

        return remove

    outcomes = all_at_once([remove_the_other(0), remove_the_other(1)])

    assert sorted(outcomes) == ["SettingInvalid", "removed"]
    assert Membership.objects.filter(team=team, role="admin").count() == 1


def test_a_component_deleted_behind_the_cached_catalog_still_stores_the_change(client):
    """Another process deletes a component; this one's catalog has not heard yet."""
    pipeline_for("alert24")
    doomed = ComponentFactory(name="payments-service")
    ComponentFactory(name="search-api")
    body = {"description": "Deploy", "environment": "production"}
    assert post_json(client, {**body, "component": "search-api"}).status_code == 202  # cached
    with connection.cursor() as cursor:  # no signal: as if from elsewhere, a moment ago
        cursor.execute("DELETE FROM teams_component WHERE id = %s", [doomed.pk])

    response = post_json(client, {**body, "component": "payments-service"})

    assert response.status_code == 202, response.content
    change = ChangeEvent.objects.get(pk=response.json()["id"])
    assert (change.component, change.resolved_component_id) == ("payments-service", None)


def test_a_storm_of_twelve_alerts_at_once_is_one_incident():
    """Twelve alarms about one service, each in its own request, all at the same instant: none
    may miss the incident another is opening."""
    fixture = load_fixture("alertmanager", "01_firing_two_alerts")
    team = TeamFactory()
    ComponentFactory(name="payments-service", owner_team=team)
    source_for("alertmanager", fixture, team=team)
    payload = json.loads(fixture["body"])
    bodies = []
    for number in range(12):
        alert = {**payload["alerts"][0], "fingerprint": f"storm-{number:02d}"}
        alert["labels"] = {**alert["labels"], "alertname": f"Alarm{number:02d}"}
        bodies.append(json.dumps({**payload, "alerts": [alert]}))

    answers = all_at_once(
        [
            lambda client, body=body: send(client, fixture, url_for(fixture), body=body)
            for body in bodies
        ]
    )

    assert [answer.status_code for answer in answers] == [202] * 12
    incident = Incident.objects.get()
    assert sorted(answer.json()["action"] for answer in answers) == ["grouped"] * 11 + ["raised"]
    assert {answer.json()["id"] for answer in answers} == {incident.pk}
    assert incident.alert_count == 12 and incident.alerts.count() == 12
    assert incident.title.endswith(" and 11 more")
