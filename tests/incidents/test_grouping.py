"""Alert grouping: a storm of alerts about one service, from one producer or several, is one
incident; each alert keeps its own alias, title, severity and status."""

import copy
import json

import pytest
import time_machine
from django.urls import reverse

from common.times import parse_timestamp
from incidents.models import Alert, Incident, TimelineEntry
from pipelines.config_as_code import apply_config
from pipelines.models import AlertSource
from tests.conftest import wait_for
from tests.fixtures import load_fixture
from tests.incidents.ingest import install_sns_certificate, send, source_for, url_for
from tests.incidents.test_alert_contract import sns_signed
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import ComponentFactory, TeamFactory

ALERTMANAGER = load_fixture("alertmanager", "01_firing_two_alerts")
CLOUDWATCH = load_fixture("sns_cloudwatch", "02_alarm_metric")
STORM_AT = parse_timestamp(CLOUDWATCH["received_at"])


@pytest.fixture(autouse=True)
def sns_certificates(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)


def prometheus_alert(name: str, *, service: str = "payments-service", **fields: str) -> dict:
    """One Alertmanager alert of the fixture's shape, about `service`."""
    alert = copy.deepcopy(json.loads(ALERTMANAGER["body"])["alerts"][0])
    alert["labels"] = {**alert["labels"], "alertname": name, "service": service}
    alert["annotations"] = {**alert["annotations"], "summary": name}
    alert["fingerprint"] = f"fp-{name}-{service}"
    alert.update(fields)
    return alert


def alertmanager_body(*alerts: dict, status: str = "firing") -> str:
    return json.dumps({**json.loads(ALERTMANAGER["body"]), "status": status, "alerts": alerts})


def cloudwatch_body(name: str, *, state: str = "ALARM", service: str = "payments-service") -> str:
    message = json.loads(CLOUDWATCH["body"])
    alarm = json.loads(message["Message"])
    alarm["AlarmName"] = name
    alarm["NewStateValue"] = state
    alarm["Trigger"]["Dimensions"][0]["value"] = service
    return json.dumps(
        sns_signed({**message, "Message": json.dumps(alarm), "MessageId": f"{name}-{state}"})
    )


def storm_sources(**fields) -> tuple[AlertSource, AlertSource]:
    """An Alertmanager and a CloudWatch source of one team, each with its own key."""
    team = TeamFactory()
    ComponentFactory(name="payments-service", owner_team=team)
    alertmanager = source_for("alertmanager", ALERTMANAGER, team=team, **fields)
    cloudwatch = AlertSourceFactory(
        kind="cloudwatch_sns", key="cloudwatch-key-0123456789", team=team, **fields
    )
    return alertmanager, cloudwatch


def to_alertmanager(client, body: str):
    return send(client, ALERTMANAGER, url_for(ALERTMANAGER), body=body)


def to_cloudwatch(client, body: str):
    url = "/api/v1/alert-sources/cloudwatch-key-0123456789/alerts"
    return send(client, CLOUDWATCH, url, body=body)


NAMES = [
    "HighLatency",
    "HighErrorRate",
    "PodRestarts",
    "CPUSaturation",
    "MemorySaturation",
    "QueueBacklog",
    "DBConnectionsExhausted",
    "SlowCheckout",
    "TimeoutsUpstream",
]


@pytest.mark.django_db(transaction=True)
def test_a_twelve_alert_storm_over_two_producers_is_one_incident(client, real_worker):
    alertmanager, _ = storm_sources()
    answers = []
    with time_machine.travel(STORM_AT, tick=True):
        # The first alert at 13:57:45; eleven more within four minutes, from both producers.
        answers.append(to_alertmanager(client, alertmanager_body(prometheus_alert(NAMES[0]))))
        for name in ("HighErrorRate5xx", "ThrottledRequests", "LatencyP99"):
            answers.append(to_cloudwatch(client, cloudwatch_body(name)))
        answers.append(
            to_alertmanager(client, alertmanager_body(*map(prometheus_alert, NAMES[1:])))
        )

    assert [answer.status_code for answer in answers] == [202] * 5
    incident = Incident.objects.get()
    rows = [row for answer in answers for row in answer.json()["results"]]
    assert [row["action"] for row in rows] == ["raised"] + ["grouped"] * 11
    assert {row["id"] for row in rows} == {incident.pk}
    assert incident.alert_count == 12 and Alert.objects.filter(incident=incident).count() == 12
    assert incident.title == "HighLatency and 11 more"
    assert incident.started_at == parse_timestamp("2026-11-20T13:57:45.120394571Z")
    assert incident.alert_source == alertmanager
    joined = TimelineEntry.objects.filter(incident=incident, kind="joined")
    assert joined.count() == 11
    assert "HighErrorRate5xx joined" in {entry.data["text"] for entry in joined}
    # A real worker correlates the one incident.
    assert wait_for(lambda: Incident.objects.filter(correlated_at__isnull=False).exists())

    # Each producer's key finds the incident by the alias of its own alert.
    response = client.get(
        "/api/v1/incidents",
        {"alias": "cloudwatch-ThrottledRequests"},
        headers={"Authorization": "Bearer cloudwatch-key-0123456789"},
    )
    (listed,) = response.json()["results"]
    assert listed["id"] == incident.pk and listed["alert_count"] == 12
    assert len(listed["alerts"]) == 12
    throttled = next(a for a in listed["alerts"] if a["alias"] == "cloudwatch-ThrottledRequests")
    assert throttled["status"] == "triggered" and throttled["source"] != alertmanager.name
    assert listed["alerts"][0]["title"] == "HighLatency"


@pytest.mark.django_db
def test_an_ok_resolves_that_alarm_only_and_the_last_one_resolves_the_incident(client):
    storm_sources()
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(
            client,
            alertmanager_body(
                prometheus_alert("HighLatency"),
                prometheus_alert("HighErrorRate"),
            ),
        )
        to_cloudwatch(client, cloudwatch_body("Errors5xx"))
        incident = Incident.objects.get()
        assert (incident.alert_count, incident.severity) == (3, "critical")

        answer = to_cloudwatch(client, cloudwatch_body("Errors5xx", state="OK"))
        assert answer.json()["action"] == "resolved" and answer.json()["id"] == incident.pk
        assert answer.json()["status"] == "triggered"  # its neighbours still fire
        statuses = dict(Alert.objects.values_list("alias", "status"))
        assert statuses["cloudwatch-Errors5xx"] == "resolved"
        assert statuses["fp-HighLatency-payments-service"] == "triggered"
        assert "Errors5xx resolved" in [
            entry.data.get("text") for entry in TimelineEntry.objects.filter(incident=incident)
        ]

        resolved = [
            {**prometheus_alert(name), "status": "resolved", "endsAt": "2026-11-20T14:01:00Z"}
            for name in ("HighLatency", "HighErrorRate")
        ]
        to_alertmanager(client, alertmanager_body(*resolved, status="resolved"))

    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by_rule == "source recovered"
    assert not Alert.objects.filter(status="triggered").exists()


@pytest.mark.django_db
def test_severity_follows_the_highest_firing_alert(client):
    source_for("alertmanager", ALERTMANAGER, team=TeamFactory())
    warning = prometheus_alert("Latency")
    warning["labels"]["severity"] = "warning"
    critical = prometheus_alert("Errors")
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(client, alertmanager_body(warning))
        assert Incident.objects.get().severity == "medium"
        to_alertmanager(client, alertmanager_body(critical))
        assert Incident.objects.get().severity == "critical"
        to_alertmanager(
            client, alertmanager_body({**critical, "status": "resolved"}, status="resolved")
        )
    incident = Incident.objects.get()
    assert (incident.status, incident.severity) == ("triggered", "medium")
    assert incident.title == "Latency and 1 more"


@pytest.mark.django_db
def test_a_storm_over_two_components_that_do_not_meet_stays_two_incidents(client):
    storm_sources()
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(
            client,
            alertmanager_body(
                *[prometheus_alert(name) for name in NAMES[:3]],
                *[prometheus_alert(name, service="search-service") for name in NAMES[:3]],
            ),
        )
    assert sorted(Incident.objects.values_list("alert_count", flat=True)) == [3, 3]
    assert {
        tuple(incident.components.values_list("name", flat=True))
        for incident in Incident.objects.all()
    } == {("payments-service",), ("search-service",)}


@pytest.mark.django_db
def test_outside_the_window_or_of_another_team_a_new_incident_opens(client):
    alertmanager, _ = storm_sources(group_window_minutes=5)
    other_team = AlertSourceFactory(kind="alertmanager", key="other-team-key-0123456789")
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(client, alertmanager_body(prometheus_alert("HighLatency")))
        late = prometheus_alert("HighErrorRate", startsAt="2026-11-20T14:03:46Z")
        to_alertmanager(client, alertmanager_body(late))
        send(
            client,
            {**ALERTMANAGER, "headers": {**ALERTMANAGER["headers"]}},
            "/api/v1/alert-sources/other-team-key-0123456789/alerts",
            body=alertmanager_body(prometheus_alert("PodRestarts")),
        )
    assert alertmanager.grouping_minutes == 5 and other_team.grouping_minutes == 10
    assert sorted(Incident.objects.values_list("title", flat=True)) == [
        "HighErrorRate",
        "HighLatency",
        "PodRestarts",
    ]


@pytest.mark.django_db
def test_alerts_without_components_never_group_and_the_incidents_api_does_not_by_default(
    client,
):
    team = TeamFactory()
    source_for("alertmanager", ALERTMANAGER, team=team, default_components=[])
    no_service = prometheus_alert("A")
    del no_service["labels"]["service"], no_service["labels"]["job"]
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(client, alertmanager_body(no_service, {**no_service, "fingerprint": "b"}))
    assert Incident.objects.count() == 2

    generic = AlertSourceFactory(kind="generic", key="generic-key-0123456789", team=team)
    assert generic.grouping_minutes == 0
    for alias in ("one", "two"):
        response = client.post(
            "/api/v1/incidents",
            {"alias": alias, "title": alias, "components": ["payments-service"]},
            content_type="application/json",
            headers={"Authorization": "Bearer generic-key-0123456789"},
        )
        assert response.json()["action"] == "raised"
    assert Incident.objects.count() == 4


@pytest.mark.django_db
def test_a_repeat_acts_on_its_own_alert_and_a_person_resolves_them_all(admin_client):
    storm_sources()
    with time_machine.travel(STORM_AT, tick=False):
        first = to_alertmanager(admin_client, alertmanager_body(prometheus_alert("A")))
        to_alertmanager(admin_client, alertmanager_body(prometheus_alert("B")))
        again = to_alertmanager(admin_client, alertmanager_body(prometheus_alert("B")))
    incident = Incident.objects.get()
    assert again.json()["action"] == "repeat" and again.json()["id"] == first.json()["id"]
    assert (incident.alert_count, incident.repeat_count) == (2, 1)

    response = admin_client.patch(
        f"/api/v1/incidents/{incident.pk}", {"status": "resolved"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert {alert["status"] for alert in response.json()["alerts"]} == {"resolved"}
    # Reopened by a person: each alias fires again, and its OK resolves it.
    response = admin_client.patch(
        f"/api/v1/incidents/{incident.pk}", {"status": "reopen"}, content_type="application/json"
    )
    assert {alert["status"] for alert in response.json()["alerts"]} == {"triggered"}


@pytest.mark.django_db
def test_the_incident_page_lists_the_alerts_of_a_storm(admin_client):
    storm_sources()
    with time_machine.travel(STORM_AT, tick=False):
        to_alertmanager(admin_client, alertmanager_body(prometheus_alert("HighLatency")))
        to_cloudwatch(admin_client, cloudwatch_body("Errors5xx"))
    incident = Incident.objects.get()
    body = admin_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "HighLatency and 1 more" in body
    assert "Errors5xx joined" in body
    assert "cloudwatch-Errors5xx" in body


@pytest.mark.django_db
def test_the_window_is_set_in_the_configuration_file_and_validated():
    config = {
        "alert_sources": [
            {"name": "prometheus", "kind": "alertmanager", "group_window_minutes": 3},
            {"name": "api", "kind": "generic"},
        ]
    }
    apply_config(config)
    assert AlertSource.objects.get(name="prometheus").grouping_minutes == 3
    assert AlertSource.objects.get(name="api").grouping_minutes == 0

    with pytest.raises(Exception, match="group_window_minutes"):
        apply_config(
            {"alert_sources": [{"name": "x", "kind": "grafana", "group_window_minutes": -1}]}
        )
