import pytest
from django.core.management import call_command
from django.urls import reverse

from changes.models import ChangeEvent
from incidents.models import Incident, SuspectChange, TimelineEntry
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, Team

pytestmark = pytest.mark.django_db

MODELS = (Team, Component, DeploymentPipeline, AlertSource, ChangeEvent, Incident, TimelineEntry)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_is_idempotent_and_prints_a_working_login(client, capsys):
    call_command("seed_demo")
    first = counts()
    output = capsys.readouterr().out

    call_command("seed_demo")

    assert counts() == first
    assert first["Team"] == 3 and 6 <= first["Component"] <= 10
    # 500 changes and the culprit's rollout, which CodePipeline reported too (one more row).
    assert first["ChangeEvent"] == 502 and first["Incident"] >= 3
    assert ChangeEvent.objects.logical().count() == 501
    assert DeploymentPipeline.objects.values("kind").distinct().count() >= 3
    assert AlertSource.objects.values("kind").distinct().count() >= 3
    assert ChangeEvent.objects.values("environment").distinct().count() >= 2
    assert ChangeEvent.objects.filter(outcome="failed").exists()
    assert Incident.objects.filter(status="resolved").exists()
    assert Incident.objects.exclude(status="resolved").exists()

    top = SuspectChange.objects.get(incident__alias="cloudwatch-HighErrorRate", rank=1)
    assert top.change.idempotency_key == "demo-culprit"
    # Measured from the rollout's start: it finished 8 minutes before the alarm, in 6 minutes.
    assert top.reasons[:2] == ["component match", "14 minutes before"]
    assert [report["outcome"] for report in top.change.transitions] == ["started", "succeeded"]
    assert top.change.also_reported.get().pipeline.name == "payments-codepipeline"

    username, password = output.split("Log in as ")[1].split()[0::2]
    login = client.post(reverse("login"), {"username": username, "password": password})
    assert login.status_code == 302
    page = client.get(reverse("changes:list")).content.decode()
    assert "payments-service" in page or "checkout-api" in page
