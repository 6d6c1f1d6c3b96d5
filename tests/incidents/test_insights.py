"""The Insights page: ranking accuracy from verdicts, deployment frequency, change failure rate
and deployment durations, on small hand-made datasets whose numbers are worked out by hand."""

from datetime import timedelta
from types import SimpleNamespace

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


def incident_with_tiers(team, *suspects: tuple[int, str, str], days_ago: int = 5) -> Incident:
    """An incident whose suspects have these (rank, confidence, verdict) triples."""
    incident = IncidentFactory(team=team, started_at=timezone.now() - timedelta(days=days_ago))
    for rank, confidence, verdict in suspects:
        SuspectChangeFactory(incident=incident, rank=rank, confidence=confidence, verdict=verdict)
    return incident


def test_each_confidence_tier_says_how_often_its_top_suspect_was_the_cause(logged_in_client):
    """High: 3 incidents have a high suspect; the top high one was the cause in 2 (the first,
    and the third, where a medium ranked above it). Medium: 3 incidents; the top medium one was
    the cause in 1 (the third's rank-1 medium; the second's cause was its second medium).
    Low: 2 incidents; top low was the cause in 1. Left out: no confirmed cause, or too old."""
    payments, checkout = TeamFactory(name="Payments"), TeamFactory(name="Checkout")
    incident_with_tiers(payments, (1, "high", CONFIRMED), (2, "high", ""), (3, "low", ""))
    incident_with_tiers(payments, (1, "high", ""), (2, "medium", ""), (3, "medium", CONFIRMED))
    incident_with_tiers(checkout, (1, "medium", CONFIRMED), (2, "high", CONFIRMED))
    incident_with_tiers(None, (1, "low", CONFIRMED), (2, "medium", UNRELATED))
    incident_with_tiers(payments, (1, "high", ""), (2, "low", ""))  # nothing confirmed
    incident_with_tiers(payments, (1, "high", CONFIRMED), days_ago=91)

    response = logged_in_client.get(reverse("incidents:insights"))

    tiers = response.context["report"].accuracy.tiers
    assert [(t.confidence, t.incidents, t.hits) for t in tiers] == [
        ("high", 3, 2),
        ("medium", 3, 1),
        ("low", 2, 1),
    ]
    by_team = {row.label: row.tiers for row in response.context["report"].accuracy_by_team}
    assert [(t.incidents, t.hits) for t in by_team["Checkout"]] == [(1, 1), (1, 1), (0, 0)]
    body = response.content.decode()
    assert "By confidence" in body
    assert "67% · 2 of 3" in body and "33% · 1 of 3" in body and "50% · 1 of 2" in body


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
            started_at=now - timedelta(hours=n, minutes=7),
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
        SuspectChange(
            incident=incident,
            change=change,
            score=1,
            rank=1 + n % 4,
            verdict=CONFIRMED,
            confidence=SuspectChange.Confidence.values[n % 3],
        )
        for n, (incident, change) in enumerate(zip(incidents, changes, strict=True))
    )

    # The session, the user, four aggregates (accuracy with its tiers, teams, components,
    # kinds), durations.
    with django_assert_max_num_queries(7):
        response = logged_in_client.get(reverse("incidents:insights"))

    assert response.status_code == 200
    report = response.context["report"]
    in_period = min(count, 90 * 24)
    assert report.accuracy.incidents == in_period
    assert sum(tier.hits for tier in report.accuracy.tiers) == in_period
    assert report.delivery_by_team[0].deployments == in_period
    assert report.delivery_by_team[0].failures == in_period
    assert report.delivery_by_team[0].duration_text == "p50 7 min · p90 7 min"
    assert len(report.delivery_by_component) == min(insights.BUSIEST_COMPONENTS, 40, count)
    deployments = report.kinds[0]
    assert (deployments.kind, deployments.changes, deployments.confirmed) == (
        "deployment",
        in_period,
        in_period,
    )


# --- Lifecycles: logical changes, final outcomes, rollbacks, durations --------------------------


@pytest.fixture
def search():
    """The Search team, its pipeline, and its two components."""
    team = TeamFactory(slug="search", name="Search")
    return SimpleNamespace(
        team=team,
        pipeline=DeploymentPipelineFactory(team=team),
        api=ComponentFactory(name="search-api", owner_team=team),
        indexer=ComponentFactory(name="search-indexer", owner_team=team),
    )


def rollout(
    pipeline, component, *, days_ago: float, minutes: float = 0, outcome="succeeded", **fields
) -> ChangeEvent:
    """A deployment of `component` to production that started `days_ago` days ago and whose
    latest report came `minutes` later: its finish, unless it is still running ("started")."""
    started_at = timezone.now() - timedelta(days=days_ago)
    return ChangeEventFactory(
        pipeline=pipeline,
        component=component.name,
        resolved_component=component,
        started_at=started_at,
        occurred_at=started_at + timedelta(minutes=minutes),
        outcome=outcome,
        **fields,
    )


def incident_on(component, at) -> None:
    IncidentComponent.objects.create(
        incident=IncidentFactory(started_at=at), name=component.name, component=component
    )


def insights_page(client) -> tuple[insights.Report, str]:
    response = client.get(reverse("incidents:insights"))
    assert response.status_code == 200
    return response.context["report"], response.content.decode()


def delivery_rows(rows: list[insights.Delivery]) -> list[tuple[str, int, int]]:
    return [(row.label, row.deployments, row.failures) for row in rows]


def test_a_rollout_reported_by_two_pipelines_counts_once(search, logged_in_client):
    platform = DeploymentPipelineFactory(team=TeamFactory(slug="platform", name="Platform"))
    first = rollout(search.pipeline, search.api, days_ago=2, minutes=5)
    rollout(platform, search.api, days_ago=2, minutes=5, same_as=first)
    rollout(search.pipeline, search.api, days_ago=3)

    report, body = insights_page(logged_in_client)

    # Counted twice, the report would add a deployment of search-api and a row for Platform.
    assert delivery_rows(report.delivery_by_team) == [("Search", 2, 0)]
    assert delivery_rows(report.delivery_by_component) == [("search-api", 2, 0)]
    assert "2 deployments" in body and "Platform" not in body


def test_running_and_cancelled_changes_are_neither_deployments_nor_failures(
    search, logged_in_client
):
    now = timezone.now()
    rollout(search.pipeline, search.api, days_ago=5, minutes=4)
    rollback = rollout(search.pipeline, search.api, days_ago=1, kind="rollback")
    # Still running an hour in, with an incident during it and a rollback after it:
    rollout(
        search.pipeline, search.api, days_ago=1 / 24, outcome="started", rolled_back_by=rollback
    )
    incident_on(search.api, now - timedelta(minutes=30))
    # Cancelled after 20 minutes, with an incident 10 minutes in:
    cancelled = rollout(search.pipeline, search.api, days_ago=3, minutes=20, outcome="cancelled")
    incident_on(search.api, cancelled.started_at + timedelta(minutes=10))

    report, body = insights_page(logged_in_client)

    assert delivery_rows(report.delivery_by_team) == [("Search", 2, 0)]
    assert delivery_rows(report.delivery_by_component) == [("search-api", 2, 0)]
    assert "0 of 2" in body and "<td>0% · 0 of 2</td>" in body


def test_a_rolled_back_change_counts_as_failed(search, logged_in_client):
    rollback = rollout(search.pipeline, search.api, days_ago=9, version="v1", kind="rollback")
    rollout(search.pipeline, search.api, days_ago=10, version="v2", rolled_back_by=rollback)
    rollout(search.pipeline, search.indexer, days_ago=10)

    report, body = insights_page(logged_in_client)

    # No incident at all: the rolled-back change is the one failure, not the rollback.
    assert delivery_rows(report.delivery_by_team) == [("Search", 3, 1)]
    assert delivery_rows(report.delivery_by_component) == [
        ("search-api", 2, 1),
        ("search-indexer", 1, 0),
    ]
    assert "<td>33% · 1 of 3</td>" in body and "<td>50% · 1 of 2</td>" in body


def test_an_incident_during_a_long_rollout_fails_it(search, logged_in_client):
    # Finished 3 hours after it started; the incident began 2.5 hours in, before the finish.
    slow = rollout(search.pipeline, search.api, days_ago=4, minutes=180)
    incident_on(search.api, slow.started_at + timedelta(minutes=150))
    # That incident began an hour before this one started: not its failure.
    rollout(search.pipeline, search.api, days_ago=4 - 3.5 / 24, minutes=5)

    report, _ = insights_page(logged_in_client)

    assert delivery_rows(report.delivery_by_team) == [("Search", 2, 1)]


def test_deployment_durations_p50_and_p90_per_team_and_component(search, logged_in_client):
    # Search: 2, 6 and 16 minutes (and an instant, which has no duration) -> p50 6 min, p90
    # 6 + 0.8 x 10 = 14 min. search-api: 6 and 16 -> p50 11, p90 15. search-indexer: 2.
    rollout(search.pipeline, search.indexer, days_ago=1, minutes=2)
    six = rollout(search.pipeline, search.api, days_ago=2, minutes=6)
    rollout(search.pipeline, search.api, days_ago=3, minutes=16)
    rollout(search.pipeline, search.api, days_ago=4)
    # Left out: another pipeline's report of the 6-minute rollout, a running change, a
    # cancelled one, one to staging, and one that finished before the period.
    rollout(
        DeploymentPipelineFactory(team=search.team), search.api, days_ago=2, minutes=60, same_as=six
    )
    rollout(search.pipeline, search.api, days_ago=80, minutes=60 * 24, outcome="started")
    rollout(search.pipeline, search.api, days_ago=5, minutes=60, outcome="cancelled")
    rollout(search.pipeline, search.api, days_ago=6, minutes=60, environment="staging")
    rollout(search.pipeline, search.api, days_ago=95, minutes=60)
    # Checkout reports each deployment once: instants, no durations. Data takes 90 minutes.
    checkout = ComponentFactory(name="checkout-api", owner_team=TeamFactory(name="Checkout"))
    rollout(None, checkout, days_ago=1, idempotency_key="")
    data = ComponentFactory(name="warehouse", owner_team=TeamFactory(name="Data"))
    rollout(None, data, days_ago=1, minutes=90, idempotency_key="")

    report, body = insights_page(logged_in_client)

    minutes = timedelta(minutes=1)
    durations = [
        (row.label, row.deployments, row.duration_p50, row.duration_p90)
        for row in report.delivery_by_team
    ]
    assert durations == [
        ("Search", 4, 6 * minutes, 14 * minutes),
        ("Checkout", 1, None, None),
        ("Data", 1, 90 * minutes, 90 * minutes),
    ]
    assert [row.duration_text for row in report.delivery_by_component] == [
        "p50 11 min · p90 15 min",
        "—",
        "p50 2 min · p90 2 min",
        "p50 1 h 30 min · p90 1 h 30 min",
    ]
    assert "<td>p50 6 min · p90 14 min</td>" in body
    assert "<td>p50 11 min · p90 15 min</td>" in body and "<td>—</td>" in body


# --- Kinds of change ----------------------------------------------------------------------------


def test_every_kind_of_change_is_counted_with_how_often_it_was_the_cause(logged_in_client):
    """Flags: 3 in the period (one failed), suspects of two incidents, the confirmed cause of
    one. Deployments: 2 (one rolled back), the confirmed cause of two incidents. A grouped
    report and a change older than the period count for nothing."""
    now = timezone.now()
    flags = [
        ChangeEventFactory(kind="feature_flag", occurred_at=now - timedelta(days=days))
        for days in (1, 2, 3)
    ]
    flags[2].outcome = "failed"
    flags[2].save()
    rollback = ChangeEventFactory(kind="rollback", occurred_at=now - timedelta(days=1))
    deploys = [
        ChangeEventFactory(kind="deployment", occurred_at=now - timedelta(days=2)),
        ChangeEventFactory(
            kind="deployment", occurred_at=now - timedelta(days=4), rolled_back_by=rollback
        ),
    ]
    ChangeEventFactory(kind="deployment", same_as=deploys[0])
    ChangeEventFactory(kind="infrastructure", occurred_at=now - timedelta(days=91))
    SuspectChangeFactory(change=flags[0], rank=1, verdict=CONFIRMED)
    SuspectChangeFactory(change=flags[1], rank=2, verdict=UNRELATED)
    SuspectChangeFactory(change=deploys[0], rank=1, verdict=CONFIRMED)
    SuspectChangeFactory(change=deploys[1], rank=1, verdict=CONFIRMED)

    report, body = insights_page(logged_in_client)

    rows = {
        row.kind: (row.changes, row.failed, row.suspected, row.confirmed, row.cause_share_text)
        for row in report.kinds
    }
    assert [row.kind for row in report.kinds] == ChangeEvent.Kind.values
    assert rows["feature_flag"] == (3, 1, 2, 1, "33%")
    assert rows["deployment"] == (2, 1, 2, 2, "67%")
    assert rows["rollback"] == (1, 0, 0, 0, "—")
    assert rows["infrastructure"] == (0, 0, 0, 0, "—")
    assert "Changes by kind" in body
    assert '<span class="change-kind kind-feature_flag">Feature flag</span>' in body


def test_without_changes_the_kind_table_says_so(logged_in_client):
    _, body = insights_page(logged_in_client)
    assert "No changes in the last 90 days." in body and 'class="table kinds"' not in body
