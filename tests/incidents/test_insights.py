"""The Insights page: ranking accuracy from verdicts, deployment frequency and change failure
rate, on small hand-made datasets whose numbers are worked out by hand."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from incidents import insights
from incidents.models import Incident, IncidentComponent, SuspectChange
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

CONFIRMED = SuspectChange.Verdict.CONFIRMED
UNRELATED = SuspectChange.Verdict.UNRELATED


def incident_with_verdicts(team, *verdicts: tuple[int, str], days_ago: int = 5) -> Incident:
    """An incident whose suspects have these (rank, verdict) pairs."""
    incident = IncidentFactory(team=team, started_at=timezone.now() - timedelta(days=days_ago))
    for rank, verdict in verdicts:
        SuspectChangeFactory(incident=incident, rank=rank, verdict=verdict)
    return incident


@pytest.fixture
def ranked():
    """Payments: confirmed at rank 1, 2, 5, and {4, 2} -> 4 incidents, hit@1 1, hit@3 3.
    Checkout: rank 1 (a rank-2 suspect ruled out) -> 1, 1, 1. No team: rank 3 -> 1, 0, 1.
    Left out: only "not related", nothing reviewed, and a confirmed cause 91 days ago."""
    payments = TeamFactory(slug="payments", name="Payments")
    checkout = TeamFactory(slug="checkout", name="Checkout")
    incident_with_verdicts(payments, (1, CONFIRMED), (2, UNRELATED))
    incident_with_verdicts(payments, (1, UNRELATED), (2, CONFIRMED))
    incident_with_verdicts(payments, (5, CONFIRMED))
    incident_with_verdicts(payments, (2, CONFIRMED), (4, CONFIRMED))
    incident_with_verdicts(checkout, (1, CONFIRMED), (2, UNRELATED))
    incident_with_verdicts(None, (3, CONFIRMED))
    incident_with_verdicts(payments, (1, UNRELATED))
    incident_with_verdicts(payments, (1, ""))
    incident_with_verdicts(checkout, (1, CONFIRMED), days_ago=91)


def test_hit_at_1_and_3_per_team_and_overall(ranked):
    report = insights.insights_report(now=timezone.now())

    assert [(r.label, r.incidents, r.hit1, r.hit3) for r in report.accuracy_by_team] == [
        ("Checkout", 1, 1, 1),
        ("Payments", 4, 1, 3),
        ("No team", 1, 0, 1),
    ]
    overall = report.accuracy
    assert (overall.incidents, overall.hit1, overall.hit3) == (6, 2, 5)
    assert (overall.hit1_rate, overall.hit3_rate) == (2 / 6, 5 / 6)


def test_the_page_shows_the_ranking_numbers_and_chart(ranked, logged_in_client):
    body = logged_in_client.get(reverse("incidents:insights")).content.decode()

    assert "33%" in body and "hit@1 · 2 of 6 ranked first" in body
    assert "83%" in body and "hit@3 · 5 of 6 in the top three" in body
    assert "<svg" in body and "hit@1 25%" in body and "hit@3 75%" in body  # Payments' bars
    # Payments' hit@3 bar: 3 of 4 of the 72% track.
    assert 'width="54.00%"' in body


@pytest.fixture
def delivered():
    """Payments deploys payments-service 5 times to production in 90 days; one is followed by
    an incident on it within 60 minutes. Checkout deploys checkout-api 3 times (one by hand);
    one is followed by an incident exactly 60 minutes later, named as the alert named it."""
    now = timezone.now()
    payments = TeamFactory(slug="payments", name="Payments")
    checkout = TeamFactory(slug="checkout", name="Checkout")
    payments_service = ComponentFactory(name="payments-service", owner_team=payments)
    checkout_api = ComponentFactory(name="checkout-api", owner_team=checkout)
    github = DeploymentPipelineFactory(team=payments)
    gitlab = DeploymentPipelineFactory(team=checkout)

    def deploy(pipeline, component, days_ago: float, **fields) -> ChangeEvent:
        return ChangeEventFactory(
            pipeline=pipeline,
            component=component.name,
            resolved_component=component,
            occurred_at=now - timedelta(days=days_ago),
            **fields,
        )

    def incident_on(name: str, at, *, catalog=None) -> None:
        incident = IncidentFactory(started_at=at)
        IncidentComponent.objects.create(incident=incident, name=name, component=catalog)

    failed = deploy(github, payments_service, 10)
    incident_on(
        "payments-service", failed.occurred_at + timedelta(minutes=30), catalog=payments_service
    )
    other = deploy(github, payments_service, 20)
    incident_on("checkout-api", other.occurred_at + timedelta(minutes=10), catalog=checkout_api)
    too_late = deploy(github, payments_service, 30)
    incident_on("payments-service", too_late.occurred_at + timedelta(minutes=90))
    deploy(github, payments_service, 40, kind="rollback", outcome="failed")
    before = deploy(github, payments_service, 50)
    incident_on("payments-service", before.occurred_at - timedelta(minutes=10))
    # Not deployments to production in the period:
    deploy(github, payments_service, 1, environment="staging")
    deploy(github, payments_service, 2, kind="config")
    deploy(github, payments_service, 3, outcome="started")
    deploy(github, payments_service, 100)

    hour_later = deploy(gitlab, checkout_api, 5, environment="Prod")
    incident_on("checkout-api", hour_later.occurred_at + timedelta(minutes=60))
    deploy(gitlab, checkout_api, 6, environment="")
    deploy(None, checkout_api, 7, idempotency_key="", triggered_by="", version="hotfix")


def test_deployment_frequency_and_change_failure_rate_per_team_and_component(delivered):
    report = insights.insights_report(now=timezone.now())

    teams = [(r.label, r.deployments, r.failures, r.per_week) for r in report.delivery_by_team]
    assert teams == [("Payments", 5, 1, 0.4), ("Checkout", 3, 1, 0.2)]
    assert [r.failure_rate for r in report.delivery_by_team] == [0.2, 1 / 3]
    components = [(r.label, r.deployments, r.failures) for r in report.delivery_by_component]
    assert components == [("payments-service", 5, 1), ("checkout-api", 3, 1)]


def test_the_page_draws_delivery_charts(delivered, logged_in_client):
    body = logged_in_client.get(reverse("incidents:insights")).content.decode()

    assert "Deployments per week by team" in body and "Change failure rate by component" in body
    assert "0.4 / week" in body and "5 deployments" in body and "1 of 5" in body
    assert "20%" in body and "33%" in body
    assert 'width="14.40%"' in body  # Payments' failure bar: 20% of the 72% track
    assert 'width="72.00%"' in body  # the busiest team's frequency bar fills the track


def test_empty_states_guide(logged_in_client):
    body = logged_in_client.get(reverse("incidents:insights")).content.decode()
    assert (
        "No confirmed causes yet</strong> — mark a suspect as the confirmed cause on an "
        "incident page."
    ) in body
    assert "No production deployments in the last 90 days." in body
    assert "<svg" not in body


def test_labels_are_escaped_and_shortened(logged_in_client):
    team = TeamFactory(name="<script>alert(1)</script>")
    incident_with_verdicts(team, (1, CONFIRMED))
    ChangeEventFactory(
        pipeline=DeploymentPipelineFactory(team=team), component="a-very-long-component-name-indeed"
    )

    body = logged_in_client.get(reverse("incidents:insights")).content.decode()

    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "a-very-long-component-name-…" in body
    assert "<title>a-very-long-component-name-indeed</title>" in body


@pytest.mark.parametrize("count", [10, 1000])
def test_insights_cost_does_not_grow(logged_in_client, django_assert_max_num_queries, count):
    team = TeamFactory()
    pipeline = DeploymentPipelineFactory(team=team)
    source = AlertSourceFactory(team=team)
    now = timezone.now()
    changes = ChangeEvent.objects.bulk_create(
        ChangeEvent(
            pipeline=pipeline,
            component=f"service-{n % 40}",
            environment="production",
            occurred_at=now - timedelta(hours=n),
            received_at=now - timedelta(hours=n),
            idempotency_key=f"bulk-{n}",
        )
        for n in range(count)
    )
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Alarm {n}",
            alias=f"alias-{n}",
            alert_source=source,
            team=team,
            status="resolved",
            started_at=now - timedelta(hours=n) + timedelta(minutes=20),
            last_alert_at=now,
        )
        for n in range(count)
    )
    IncidentComponent.objects.bulk_create(
        IncidentComponent(incident=incident, name=f"service-{n % 40}")
        for n, incident in enumerate(incidents)
    )
    SuspectChange.objects.bulk_create(
        SuspectChange(incident=incident, change=change, score=1, rank=1 + n % 4, verdict=CONFIRMED)
        for n, (incident, change) in enumerate(zip(incidents, changes, strict=True))
    )

    with django_assert_max_num_queries(5):  # the session, the user, and three aggregates
        response = logged_in_client.get(reverse("incidents:insights"))

    assert response.status_code == 200
    report = response.context["report"]
    in_period = min(count, 90 * 24)
    assert report.accuracy.incidents == in_period
    assert report.delivery_by_team[0].deployments == in_period
    assert report.delivery_by_team[0].failures == in_period
    assert len(report.delivery_by_component) == min(insights.BUSIEST_COMPONENTS, 40, count)
