"""Correlation rules (DESIGN.md): window, team scoping, component and dependency classes,
environment, closeness; idempotent; late arrivals; constant query count."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import correlation
from incidents.models import IncidentComponent, SuspectChange
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import post_json
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def incident_on(*names: str, team=None, source_team=None, environment="", **fields):
    source = AlertSourceFactory(team=source_team)
    incident = IncidentFactory(
        alert_source=source, team=team, environment=environment, started_at=NOW, **fields
    )
    for name in names:
        component = ComponentFactory._meta.model.objects.filter(name=name).first()
        IncidentComponent.objects.create(incident=incident, name=name, component=component)
    return incident


def change(minutes_before: float, component: str = "payments-service", **fields):
    catalog = ComponentFactory._meta.model.objects.filter(name=component).first()
    fields.setdefault("pipeline", DeploymentPipelineFactory(team=None))
    at = NOW - timedelta(minutes=minutes_before)
    return ChangeEventFactory(
        occurred_at=at, component=component, resolved_component=catalog, **fields
    )


def suspects(incident) -> list[int]:
    correlation.correlate_incident(incident_id=incident.pk)
    return list(
        SuspectChange.objects.filter(incident=incident)
        .order_by("rank")
        .values_list("change_id", flat=True)
    )


def test_window_is_60_minutes_before_to_2_after_by_default():
    incident = incident_on("payments-service")
    inside = [change(59), change(0), change(-1.5)]
    change(61)
    change(-3)
    assert set(suspects(incident)) == {c.pk for c in inside}


def test_the_alert_source_sets_the_window():
    incident = incident_on("payments-service")
    incident.alert_source.window_minutes, incident.alert_source.skew_minutes = 10, 0
    incident.alert_source.save()
    inside = change(9)
    change(11)
    change(-1)
    assert suspects(incident) == [inside.pk]


def test_component_match_outranks_closer_unrelated_changes_and_dependencies_rank_next():
    payments = ComponentFactory(name="payments-service", owner_team=None)
    database = ComponentFactory(name="postgres-main", owner_team=None)
    payments.depends_on.add(database)
    incident = incident_on("payments-service")
    unrelated = change(1, component="search-api")
    dependency = change(2, component="postgres-main")
    direct = change(30, component="payments-service")

    assert suspects(incident) == [direct.pk, dependency.pk, unrelated.pk]
    reasons = SuspectChange.objects.get(change=dependency).reasons
    assert reasons[0] == "payments-service depends on postgres-main"
    assert SuspectChange.objects.get(change=direct).reasons[:2] == [
        "component match",
        "30 minutes before",
    ]


def test_aliases_match_through_the_catalog():
    payments = ComponentFactory(name="payments-service", owner_team=None)
    payments.aliases.create(name="payments-prod")
    incident = incident_on("payments-service")
    via_alias = ChangeEventFactory(
        occurred_at=NOW - timedelta(minutes=5),
        component="payments-prod",
        resolved_component=payments,
    )
    change(1, component="other")
    assert suspects(incident)[0] == via_alias.pk


def test_environment_then_closeness_within_a_class():
    incident = incident_on("payments-service", environment="production")
    staging_closest = change(1, environment="staging")
    production_far = change(40, environment="production")
    production_near = change(8, environment="production")
    assert suspects(incident) == [production_near.pk, production_far.pk, staging_closest.pk]


def test_failed_deploys_and_same_team_are_reasons():
    team = TeamFactory()
    incident = incident_on("payments-service", source_team=team)
    failed = change(5, outcome="failed", pipeline=DeploymentPipelineFactory(team=team))
    suspects(incident)
    reasons = SuspectChange.objects.get(change=failed).reasons
    assert "failed deployment" in reasons and "same team" in reasons


# Team scoping, as ilert does it: (who owns pipelines, which change, candidate?)
@pytest.mark.parametrize(
    ("case", "is_candidate"),
    [
        ("no teams anywhere: account-wide", True),
        ("source team owns pipelines: its own pipeline's change", True),
        ("source team owns pipelines: another team's pipeline's change", False),
        ("source team owns pipelines: a change from a team-less pipeline", False),
        ("team without pipelines: fallback to account-wide", True),
        ("component owner team's pipeline", True),
        ("several teams: the second team's pipeline", True),
        ("manual change on a component the team owns", True),
        ("manual change on another team's component", False),
        ("another team's pipeline changing a dependency", True),
    ],
)
def test_team_scoping(case, is_candidate):
    payments, checkout, platform = TeamFactory(), TeamFactory(), TeamFactory()
    own_pipeline = DeploymentPipelineFactory(team=payments)
    other_pipeline = DeploymentPipelineFactory(team=platform)
    ComponentFactory(name="checkout-api", owner_team=checkout)
    DeploymentPipelineFactory(team=checkout)
    database = ComponentFactory(name="postgres-main", owner_team=platform)
    service = ComponentFactory(name="payments-service", owner_team=None)
    service.depends_on.add(database)

    incident, the_change = {
        "no teams anywhere: account-wide": lambda: (
            incident_on("payments-service"),
            change(5, pipeline=DeploymentPipelineFactory(team=None)),
        ),
        "source team owns pipelines: its own pipeline's change": lambda: (
            incident_on("payments-service", source_team=payments),
            change(5, pipeline=own_pipeline),
        ),
        "source team owns pipelines: another team's pipeline's change": lambda: (
            incident_on("payments-service", source_team=payments),
            change(5, component="search-api", pipeline=other_pipeline),
        ),
        "source team owns pipelines: a change from a team-less pipeline": lambda: (
            incident_on("payments-service", source_team=payments),
            change(5, component="search-api", pipeline=DeploymentPipelineFactory(team=None)),
        ),
        "team without pipelines: fallback to account-wide": lambda: (
            incident_on("payments-service", source_team=TeamFactory()),
            change(5, component="search-api", pipeline=other_pipeline),
        ),
        "component owner team's pipeline": lambda: (
            incident_on("checkout-api", source_team=payments),
            change(5, component="checkout-api", pipeline=DeploymentPipelineFactory(team=checkout)),
        ),
        "several teams: the second team's pipeline": lambda: (
            incident_on("checkout-api", source_team=payments),
            change(5, component="search-api", pipeline=DeploymentPipelineFactory(team=checkout)),
        ),
        "manual change on a component the team owns": lambda: (
            incident_on("checkout-api", source_team=payments),
            change(5, component="checkout-api", pipeline=None, idempotency_key=""),
        ),
        "manual change on another team's component": lambda: (
            incident_on("payments-service", source_team=payments),
            change(5, component="checkout-api", pipeline=None, idempotency_key=""),
        ),
        "another team's pipeline changing a dependency": lambda: (
            incident_on("payments-service", source_team=payments),
            change(5, component="postgres-main", pipeline=other_pipeline),
        ),
    }[case]()

    assert (the_change.pk in suspects(incident)) is is_candidate


def test_correlating_twice_gives_the_same_rows_and_keeps_verdicts():
    incident = incident_on("payments-service")
    first = change(5)
    change(20)
    suspects(incident)
    SuspectChange.objects.filter(change=first).update(verdict="confirmed")
    before = list(SuspectChange.objects.order_by("rank").values("id", "change_id", "rank", "score"))

    suspects(incident)

    assert (
        list(SuspectChange.objects.order_by("rank").values("id", "change_id", "rank", "score"))
        == before
    )
    assert SuspectChange.objects.get(change=first).verdict == "confirmed"
    incident.refresh_from_db()
    assert incident.correlated_at is not None


def test_a_late_arrival_is_correlated_when_it_arrives():
    incident = incident_on("payments-service")
    suspects(incident)
    late = change(8)  # recorded now, timestamped inside the window

    assert correlation.correlate_changes(change_ids=[late.pk]) == [incident.pk]
    assert SuspectChange.objects.filter(incident=incident, change=late).exists()
    late.refresh_from_db()
    assert late.correlated_at is not None


def test_the_sweep_catches_what_was_missed():
    incident = incident_on("payments-service")
    missed = change(3)
    assert correlation.sweep() == (1, 1)
    assert SuspectChange.objects.filter(incident=incident, change=missed).exists()
    assert correlation.sweep() == (0, 0)


@pytest.mark.parametrize("count", [5, 150])
def test_correlating_one_incident_takes_constant_queries(count):
    payments = ComponentFactory(name="payments-service", owner_team=TeamFactory())
    payments.depends_on.add(ComponentFactory(name="postgres-main"))
    incident = incident_on("payments-service", source_team=payments.owner_team)
    pipeline = DeploymentPipelineFactory(team=payments.owner_team)
    for minutes in range(count):
        change(minutes % 60, pipeline=pipeline)
    with CaptureQueriesContext(connection) as captured:
        correlation.correlate_incident(incident_id=incident.pk)
    assert len(captured) <= 12


def test_a_change_posted_after_the_alarm_becomes_a_suspect(
    client, django_capture_on_commit_callbacks
):
    incident = incident_on("payments-service")
    assert suspects(incident) == []  # as its alert's ingest had it correlated
    DeploymentPipelineFactory(key="late-key-0123456789", team=None)
    occurred_at = (NOW - timedelta(minutes=4)).isoformat()

    with django_capture_on_commit_callbacks(execute=True):
        body = {
            "component": "payments-service",
            "description": "hotfix",
            "occurred_at": occurred_at,
        }
        response = post_json(client, body, key="late-key-0123456789")

    suspect = SuspectChange.objects.get(incident=incident)
    assert suspect.change_id == response.json()["id"]
    assert suspect.reasons[:2] == ["component match", "4 minutes before"]


def test_the_incident_api_returns_the_ranked_suspects(client, user):
    incident = incident_on("payments-service")
    closer, further = change(3, version="v2.14.1"), change(30)
    correlation.correlate_incident(incident_id=incident.pk)
    client.force_login(user)

    body = client.get(f"/api/v1/incidents/{incident.pk}").json()

    assert body["correlated_at"] is not None
    assert [s["rank"] for s in body["suspects"]] == [1, 2]
    top = body["suspects"][0]
    assert top["change"]["id"] == closer.pk and top["change"]["version"] == "v2.14.1"
    assert top["reasons"][:2] == ["component match", "3 minutes before"]
    assert {"component", "environment", "summary", "occurred_at"} <= set(top["change"])
    assert body["suspects"][1]["change"]["id"] == further.pk


def test_adding_new_changes_ranks_them_as_correlating_afresh_would():
    """add_suspects (new changes into an existing ranking) must agree with correlate_incident
    (the whole window read again): same suspects, same order, same scores."""
    owners = TeamFactory()
    payments = ComponentFactory(name="payments-service", owner_team=owners)
    payments.depends_on.add(ComponentFactory(name="postgres-main", owner_team=None))
    incident = incident_on("payments-service", source_team=owners)
    own_pipeline = DeploymentPipelineFactory(team=owners)
    DeploymentPipelineFactory(team=TeamFactory())  # scopes the incident to its teams
    for minutes in (50, 20, 5):
        change(minutes, pipeline=own_pipeline)
    correlation.correlate_incident(incident_id=incident.pk)
    other_team = DeploymentPipelineFactory(team=TeamFactory())
    new = [
        change(30, pipeline=own_pipeline, environment="staging"),
        change(1, pipeline=own_pipeline, outcome="failed"),
        change(10, component="postgres-main", pipeline=other_team),  # a dependency: in scope
        change(2, component="search-api", pipeline=other_team),  # another team's: out
        change(-1, pipeline=own_pipeline),  # just after the start
        change(90, pipeline=own_pipeline),  # outside the window
    ]

    assert correlation.correlate_changes(change_ids=[c.pk for c in new]) == [incident.pk]
    added = list(
        SuspectChange.objects.filter(incident=incident)
        .order_by("rank")
        .values_list("change_id", "rank", "score", "reasons")
    )
    correlation.correlate_incident(incident_id=incident.pk)
    afresh = list(
        SuspectChange.objects.filter(incident=incident)
        .order_by("rank")
        .values_list("change_id", "rank", "score", "reasons")
    )

    assert added == afresh
    assert len(afresh) == 7


def test_adding_changes_keeps_at_most_the_suspect_limit(monkeypatch):
    monkeypatch.setattr(correlation, "MAX_SUSPECTS", 3)
    incident = incident_on("payments-service")
    for minutes in (40, 30, 20):
        change(minutes)
    correlation.correlate_incident(incident_id=incident.pk)
    closer = [change(2), change(1)]

    correlation.correlate_changes(change_ids=[c.pk for c in closer])

    ranked = SuspectChange.objects.filter(incident=incident).order_by("rank")
    assert [s.rank for s in ranked] == [1, 2, 3]
    assert [s.change_id for s in ranked][:2] == [closer[1].pk, closer[0].pk]


def test_changes_wait_for_an_incidents_first_correlation():
    incident = incident_on("payments-service")  # not correlated yet
    early = change(5)

    correlation.correlate_changes(change_ids=[early.pk])

    assert not SuspectChange.objects.exists()  # left to the incident's own correlation
    assert suspects(incident) == [early.pk]


# --- Spans: a change is a candidate while it rolls out ------------------------------------------


def rollout(started_minutes_before: float, finished_minutes_before: float | None, **fields):
    started = NOW - timedelta(minutes=started_minutes_before)
    finished = (
        None
        if finished_minutes_before is None
        else NOW - timedelta(minutes=finished_minutes_before)
    )
    fields.setdefault("pipeline", DeploymentPipelineFactory(team=None))
    return ChangeEventFactory(
        component=fields.pop("component", "payments-service"),
        started_at=started,
        occurred_at=finished or started,
        finished_at=finished,
        outcome="succeeded" if finished else "started",
        **fields,
    )


def test_a_change_rolling_out_at_the_alarm_ranks_first_and_says_so():
    incident = incident_on("payments-service")
    finished_just_before = change(0.5)
    rolling = rollout(4, -4)  # started 4 minutes before, finished 4 after the alarm

    assert suspects(incident) == [rolling.pk, finished_just_before.pk]
    top = SuspectChange.objects.get(incident=incident, change=rolling)
    assert top.reasons[:2] == [
        "component match",
        "rolling out at the start (started 4 minutes before)",
    ]


def test_a_rollout_still_running_is_rolling_out_at_the_alarm():
    incident = incident_on("payments-service")
    running = rollout(30, None)

    assert suspects(incident) == [running.pk]
    assert (
        "rolling out at the start (started 30 minutes before)"
        in SuspectChange.objects.get(change=running).reasons
    )


def test_a_span_that_meets_the_window_makes_a_candidate_measured_from_its_start():
    incident = incident_on("payments-service")
    long_rollout = rollout(90, 50)  # started before the window, finished inside it
    rollout(120, 65)  # finished before the window opened
    rollout(-5, -10)  # started after the skew

    assert suspects(incident) == [long_rollout.pk]
    assert "90 minutes before" in SuspectChange.objects.get(change=long_rollout).reasons


def test_a_rollout_whose_end_never_came_stops_counting_after_the_rollout_limit():
    incident = incident_on("payments-service")
    forgotten = rollout(correlation.ROLLOUT_LIMIT.total_seconds() / 60 + 61, None)

    assert forgotten.pk not in suspects(incident)


def test_a_report_grouped_under_another_is_no_suspect_of_its_own():
    incident = incident_on("payments-service")
    first = change(5)
    change(4, same_as=first)

    assert suspects(incident) == [first.pk]


def test_a_later_report_of_a_suspect_ranks_it_afresh():
    incident = incident_on("payments-service")
    running = rollout(20, None)
    closer = change(10)
    correlation.correlate_incident(incident_id=incident.pk)
    assert suspects(incident)[0] == running.pk  # rolling out at the alarm

    # Its finish arrives: it ended 15 minutes before the alarm, so the closer change wins.
    running.outcome, running.finished_at = "succeeded", NOW - timedelta(minutes=15)
    running.occurred_at = running.finished_at
    running.events = [{"outcome": "started"}, {"outcome": "succeeded"}]
    running.save()
    correlation.correlate_changes(change_ids=[running.pk])

    ranked = list(
        SuspectChange.objects.filter(incident=incident)
        .order_by("rank")
        .values_list("change_id", flat=True)
    )
    assert ranked == [closer.pk, running.pk]


# --- Dependencies up to three hops, and confidence ----------------------------------------------


def chain(*names: str, team=None):
    """payments-service -> pgbouncer -> postgres-main: each depends on the next."""
    components = [
        ComponentFactory._meta.model.objects.filter(name=name).first()
        or ComponentFactory(name=name, owner_team=team)
        for name in names
    ]
    for source, target in pairwise(components):
        source.depends_on.add(target)
    return components


def test_a_two_hop_dependency_outranks_a_same_team_sibling_and_names_its_path():
    payments = TeamFactory()
    platform = TeamFactory()
    chain("payments-service", "pgbouncer", team=payments)
    chain("pgbouncer", "postgres-main", team=platform)
    ComponentFactory(name="payments-worker", owner_team=payments)
    incident = incident_on("payments-service", source_team=payments)
    ours = DeploymentPipelineFactory(team=payments)
    sibling = change(2, "payments-worker", pipeline=ours)
    database = change(20, "postgres-main", pipeline=DeploymentPipelineFactory(team=platform))

    assert suspects(incident) == [database.pk, sibling.pk]
    top = SuspectChange.objects.get(change=database)
    assert top.reasons[0] == "payments-service → pgbouncer → postgres-main"
    assert top.confidence == "medium"
    assert SuspectChange.objects.get(change=sibling).confidence == "medium"


def test_one_hop_above_two_above_three_and_no_further():
    path = chain("payments-service", "pgbouncer", "postgres-main", "storage", "san")
    incident = incident_on("payments-service")
    by_hops = [change(5, component.name) for component in path[1:]]

    ranked = suspects(incident)
    assert ranked[:3] == [c.pk for c in by_hops[:3]]
    four_hops = by_hops[3]
    assert SuspectChange.objects.get(change=four_hops).reasons[0] != "san"
    assert (
        "payments-service depends on pgbouncer"
        in SuspectChange.objects.get(change=by_hops[0]).reasons
    )
    assert SuspectChange.objects.get(change=by_hops[2]).reasons[0] == (
        "payments-service → pgbouncer → postgres-main → storage"
    )


def test_dependency_cycles_end():
    first, _, last = chain("payments-service", "pgbouncer", "postgres-main")
    last.depends_on.add(first)
    incident = incident_on("payments-service")
    changed = change(5, "postgres-main")

    assert suspects(incident) == [changed.pk]


@pytest.mark.parametrize(
    ("fields", "confidence"),
    [
        ({}, "high"),
        ({"environment": "staging"}, "medium"),
        ({"component": "unrelated-thing"}, "low"),
    ],
)
def test_confidence_tiers(fields, confidence):
    chain("payments-service", "pgbouncer")
    incident = incident_on("payments-service")
    suspect = change(5, **fields)

    suspects(incident)
    assert SuspectChange.objects.get(change=suspect).confidence == confidence


def test_a_direct_dependency_before_the_alarm_is_high_and_one_after_it_medium():
    chain("payments-service", "pgbouncer")
    incident = incident_on("payments-service")
    before, after = change(5, "pgbouncer"), change(-1, "pgbouncer")

    suspects(incident)
    assert SuspectChange.objects.get(change=before).confidence == "high"
    assert SuspectChange.objects.get(change=after).confidence == "medium"


def test_the_api_states_the_conclusion(client, user):
    incident = incident_on("payments-service")
    change(30, "unrelated-thing")
    suspects(incident)
    client.force_login(user)

    body = client.get(f"/api/v1/incidents/{incident.pk}").json()

    assert body["conclusion"] == {
        "confidence": "low",
        "text": "No change of payments-service or its dependencies in the 60 minutes before "
        "the alarm",
    }
    assert body["suspects"][0]["confidence"] == "low"


@pytest.mark.parametrize(
    ("component", "said"),
    [
        ("payments-service", "Likely cause: payments-service"),
        ("pgbouncer", "Possible causes"),
        (
            "unrelated-thing",
            "No change of payments-service or its dependencies in the 60 minutes before the alarm",
        ),
    ],
)
def test_the_page_says_how_sure_it_is(logged_in_client, component, said):
    chain("payments-service", "pgbouncer")
    incident = incident_on("payments-service")
    change(5, component, environment="staging" if component == "pgbouncer" else "production")
    suspects(incident)

    body = logged_in_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert said in body
    confidence = SuspectChange.objects.get(incident=incident).confidence
    assert f"{confidence.title()} confidence" in body


def test_a_window_crowded_past_the_candidate_limit_keeps_the_latest_changes(monkeypatch):
    monkeypatch.setattr(correlation, "CANDIDATE_LIMIT", 3)
    incident = incident_on("payments-service")
    change(50), change(40)
    latest = [change(30), change(20), change(10)]

    assert sorted(suspects(incident)) == sorted(change.pk for change in latest)


def test_a_change_still_running_since_before_the_window_is_a_candidate_beside_the_limit(
    monkeypatch,
):
    monkeypatch.setattr(correlation, "CANDIDATE_LIMIT", 3)
    incident = incident_on("payments-service")
    running = change(90, outcome="started", started_at=NOW - timedelta(minutes=90))
    ended = [change(30), change(20)]

    assert sorted(suspects(incident)) == sorted([running.pk, *(c.pk for c in ended)])
