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
    assert first["ChangeEvent"] == 501 and first["Incident"] >= 3
    assert DeploymentPipeline.objects.values("kind").distinct().count() >= 3
    assert AlertSource.objects.values("kind").distinct().count() >= 3
    assert ChangeEvent.objects.values("environment").distinct().count() >= 2
    assert ChangeEvent.objects.filter(outcome="failed").exists()
    assert Incident.objects.filter(status="resolved").exists()
    assert Incident.objects.exclude(status="resolved").exists()

    top = SuspectChange.objects.get(incident__alias="cloudwatch-HighErrorRate", rank=1)
    assert top.change.idempotency_key == "demo-culprit"
    assert top.reasons[:2] == ["component match", "8 minutes before"]

    username, password = output.split("Log in as ")[1].split()[0::2]
    login = client.post(reverse("login"), {"username": username, "password": password})
    assert login.status_code == 302
    page = client.get(reverse("changes:list")).content.decode()
    assert "payments-service" in page or "checkout-api" in page
