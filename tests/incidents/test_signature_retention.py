"""Replays after cleanup (issue #19): the signed timestamp tolerance is capped at a day by one
rule for the form, the API and the configuration file, and a remembered signature is kept as long
as a replay of its request could pass the timestamp check, whatever its source's tolerance."""

import html
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from pipelines.models import AlertSource, SeenSignature
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.pipelines.test_apply_config import fails
from tests.pipelines.test_auth_mode import BEARER, KEY, SECRET, WEBHOOK_BODY, post, signed
from tests.settings_actors import cast
from tests.teams.test_config_api import Api

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
TOO_LONG = 7 * DAY
MESSAGE = "At most 86400 seconds (a day)"


def test_the_form_refuses_a_tolerance_over_a_day(client):
    people = cast()
    client.force_login(people.users["team-admin"])
    form = {
        "name": "agent",
        "team": people.team.pk,
        "kind": "webhook",
        "auth_mode": "signature",
        "default_severity": "high",
        "window_minutes": 60,
        "skew_minutes": 2,
        "reopen_window_minutes": 0,
        "timestamp_tolerance_seconds": TOO_LONG,
    }
    response = client.post(reverse("settings:integration-new", args=["alert-sources"]), form)

    assert response.status_code == 400
    assert MESSAGE in html.unescape(response.content.decode())
    assert not AlertSource.objects.exists()


def test_the_api_refuses_a_tolerance_over_a_day():
    people = cast()
    api = Api(people.users["team-admin"])
    body = {"name": "agent", "kind": "webhook", "team": "payments"}

    response = api.post("/api/v1/alert-sources", {**body, "timestamp_tolerance_seconds": TOO_LONG})

    assert response.status_code == 400
    assert MESSAGE in response.json()["fields"]["timestamp_tolerance_seconds"][0]
    source = AlertSourceFactory(team=people.team, kind="webhook")
    patched = api.patch(
        f"/api/v1/alert-sources/{source.pk}", {"timestamp_tolerance_seconds": DAY + 1}
    )
    assert patched.status_code == 400
    source.refresh_from_db()
    assert source.timestamp_tolerance_seconds == 300


def test_the_configuration_file_refuses_a_tolerance_over_a_day(tmp_path, capsys):
    text = (
        "alert_sources:\n  - name: agent\n    kind: webhook\n"
        f"    timestamp_tolerance_seconds: {TOO_LONG}\n"
    )
    errors = fails(tmp_path, text, capsys)
    assert any(
        "alert_sources[0] (agent).timestamp_tolerance_seconds: " + MESSAGE in line
        for line in errors
    ), errors
    assert not AlertSource.objects.exists()


def test_a_signature_is_kept_as_long_as_its_sources_tolerance_allows_a_replay(client):
    """A source set to a longer tolerance before the cap (three days): its remembered signature
    outlives the two-day cleanup, and the replay is still refused."""
    AlertSourceFactory(kind="webhook", key=KEY, secret=SECRET, timestamp_tolerance_seconds=3 * DAY)
    sent_at = timezone.now().replace(microsecond=0)
    headers = {**BEARER, **signed(WEBHOOK_BODY, at=sent_at)}
    with time_machine.travel(sent_at, tick=False):
        assert post(client, "/api/v1/alerts", WEBHOOK_BODY, headers).status_code == 202

    later = sent_at + timedelta(days=2, hours=12)  # the timestamp is still within three days
    services.apply_retention(now=later)

    assert SeenSignature.objects.count() == 1
    with time_machine.travel(later, tick=False):
        replay = post(client, "/api/v1/alerts", WEBHOOK_BODY, headers)
    assert replay.status_code == 401 and replay.json()["code"] == "replayed"
    assert Incident.objects.get().repeat_count == 0

    # Once no replay could pass the timestamp check (twice the tolerance), it goes.
    services.apply_retention(now=sent_at + timedelta(days=6, seconds=1))
    assert not SeenSignature.objects.exists()


def test_signatures_of_other_sources_and_pipelines_go_after_two_days():
    now = timezone.now()
    short = AlertSourceFactory(kind="webhook")
    pipeline = DeploymentPipelineFactory(auth_mode="signature")
    for owner in ({"alert_source": short}, {"pipeline": pipeline}):
        SeenSignature.objects.create(
            signature="old", seen_at=now - timedelta(days=2, hours=1), **owner
        )
        SeenSignature.objects.create(signature="new", seen_at=now - timedelta(days=1), **owner)

    deleted = services.apply_retention(now=now)

    assert deleted["seen_signatures"] == 2
    assert set(SeenSignature.objects.values_list("signature", flat=True)) == {"new"}
