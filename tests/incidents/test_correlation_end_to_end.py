"""The product's promise, end to end with a real Celery worker: a deployment and an alarm go in
through the HTTP API; the incident's top suspect is that deployment, with the reason."""

import json
from datetime import timedelta

import time_machine

from changes.models import ChangeEvent
from common.times import parse_timestamp
from incidents.models import Incident, SuspectChange
from incidents.presenters import describe_suspect
from tests.changes.ingest import post_json
from tests.conftest import wait_for
from tests.fixtures import load_fixture
from tests.incidents.ingest import install_sns_certificate, send, source_for, url_for
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory


def test_deployment_then_alarm_makes_the_deployment_the_top_suspect(
    real_worker, client, settings, tmp_path
):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)
    payments, search = TeamFactory(slug="payments"), TeamFactory(slug="search")
    ComponentFactory(name="payments-service", owner_team=payments)
    DeploymentPipelineFactory(team=payments, key="payments-ci-key-0123")
    DeploymentPipelineFactory(team=search, key="search-ci-key-01234")
    alarm = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source_for("sns_cloudwatch", alarm, team=payments)
    alarm_at = parse_timestamp(json.loads(json.loads(alarm["body"])["Message"])["StateChangeTime"])
    deployed_at = (alarm_at - timedelta(minutes=8)).isoformat()

    with time_machine.travel(alarm_at - timedelta(minutes=8), tick=False):
        ours = post_json(
            client,
            {
                "component": "payments-service",
                "environment": "production",
                "description": "Deploy v4.7.0",
                "occurred_at": deployed_at,
            },
            key="payments-ci-key-0123",
        )
        theirs = post_json(
            client,
            {
                "component": "search-api",
                "environment": "production",
                "description": "Deploy",
                "occurred_at": deployed_at,
            },
            key="search-ci-key-01234",
        )
    with time_machine.travel(parse_timestamp(alarm["received_at"]), tick=False):
        raised = send(client, alarm, url_for(alarm))
    assert (ours.status_code, theirs.status_code, raised.status_code) == (202, 202, 202)
    incident = Incident.objects.get(pk=raised.json()["id"])

    assert wait_for(lambda: Incident.objects.get(pk=incident.pk).correlated_at is not None)
    top = SuspectChange.objects.get(incident=incident, rank=1)
    assert top.change_id == ours.json()["id"]
    assert ", ".join(top.reasons[:2]) == "component match, 8 minutes before"
    assert not SuspectChange.objects.filter(change_id=theirs.json()["id"]).exists()


def test_an_alarm_at_minute_3_of_an_8_minute_rollout_makes_that_rollout_the_top_suspect(
    real_worker, client, settings, tmp_path
):
    """The new pods start failing while the rollout goes on: its finish comes 5 minutes after
    the alarm, and the rollout is still the answer, said as such."""
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)
    payments = TeamFactory(slug="payments")
    ComponentFactory(name="payments-service", owner_team=payments)
    DeploymentPipelineFactory(team=payments, key="payments-ci-key-0123")
    alarm = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source_for("sns_cloudwatch", alarm, team=payments)
    alarm_at = parse_timestamp(json.loads(json.loads(alarm["body"])["Message"])["StateChangeTime"])
    rollout = {
        "component": "payments-service",
        "environment": "production",
        "version": "v4.7.0",
        "deployment_id": "rollout-4.7.0",
    }

    def report(minutes_after_alarm: int, **fields) -> int:
        moment = alarm_at + timedelta(minutes=minutes_after_alarm)
        with time_machine.travel(moment, tick=False):
            body = {**fields, "occurred_at": moment.isoformat()}
            answer = post_json(client, body, key="payments-ci-key-0123")
        assert answer.status_code == 202, answer.content
        return answer.json()["id"]

    earlier = report(-10, component="payments-service", environment="production", version="v4.6.9")
    rolling = report(-3, **rollout, outcome="started")
    with time_machine.travel(parse_timestamp(alarm["received_at"]), tick=False):
        incident = Incident.objects.get(pk=send(client, alarm, url_for(alarm)).json()["id"])
    assert wait_for(lambda: Incident.objects.get(pk=incident.pk).correlated_at is not None)
    assert report(5, **rollout, outcome="succeeded") == rolling  # the finish, after the alarm

    def ranked() -> list[int]:
        return list(
            SuspectChange.objects.filter(incident=incident)
            .order_by("rank")
            .values_list("change_id", flat=True)
        )

    assert wait_for(
        lambda: ChangeEvent.objects.filter(pk=rolling, correlated_at__isnull=False).exists()
    )
    assert ranked() == [rolling, earlier]
    top = SuspectChange.objects.get(incident=incident, rank=1)
    assert "rolling out at the start (started 3 minutes before)" in top.reasons
    assert describe_suspect(top).startswith(
        "payments-service v4.7.0 was rolling out when the alarm fired (started 3 min before)"
    )
