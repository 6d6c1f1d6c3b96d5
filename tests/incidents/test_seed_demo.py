import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

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
    # 500 changes, the culprit's rollout, which CodePipeline reported too (one more row), and
    # three changes before the resolved incidents.
    assert first["ChangeEvent"] == 505 and first["Incident"] >= 3
    assert ChangeEvent.objects.logical().count() == 504
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


def test_every_demo_integration_shows_when_it_last_delivered(admin_client):
    call_command("seed_demo")
    now = timezone.now()

    overview = admin_client.get(reverse("settings:overview")).content.decode()
    for model, kind_word in ((DeploymentPipeline, "pipelines"), (AlertSource, "alert-sources")):
        for integration in model.objects.all():
            # Its newest change or alert: within the demo's week, never in the future.
            assert now - timedelta(days=8) < integration.last_event_at <= now, integration
            url = reverse("settings:integration", args=[kind_word, integration.pk])
            row = re.search(rf'<tr><td><a href="{url}">.*?</tr>', overview, re.DOTALL)
            assert row is not None and "never" not in row.group(), integration
            page = admin_client.get(url).content.decode()
            last_event = re.search(r"last event (.*?)</p>", page, re.DOTALL).group(1)
            assert "never" not in last_event and "<time" in last_event, integration
    newest = ChangeEvent.objects.filter(pipeline__name="platform-terraform").latest("received_at")
    pipeline = DeploymentPipeline.objects.get(name="platform-terraform")
    assert pipeline.last_event_at == newest.received_at


def test_insights_shows_the_demo_verdicts_on_first_visit(admin_client):
    call_command("seed_demo")

    body = admin_client.get(reverse("incidents:insights")).content.decode()

    assert "No confirmed causes yet" not in body
    # Checkout's cause was ranked first; the orders replica lag's (a database change) third,
    # below two orders-consumer deployments the engineer marked not related.
    assert "hit@1 · 1 of 2 ranked first" in body
    assert "hit@3 · 2 of 2 in the top three" in body
    verdicts = {
        (suspect.incident.alias, suspect.change.component, suspect.verdict)
        for suspect in SuspectChange.objects.exclude(verdict="").select_related(
            "incident", "change"
        )
    }
    assert ("00877cff2d3caa9b", "checkout-web", "confirmed") in verdicts
    assert ("orders-db/replica-lag", "postgres-main", "confirmed") in verdicts
    assert ("orders-db/replica-lag", "orders-consumer", "unrelated") in verdicts
    orders = Incident.objects.get(alias="orders-db/replica-lag")
    judged = orders.suspects.exclude(verdict="").count()
    assert judged >= 2 and orders.timeline.filter(kind="verdict").count() == judged
    page = admin_client.get(reverse("incidents:detail", args=[orders.pk])).content.decode()
    assert "Not related" in page and "Confirmed cause" in page
