"""The team a change counts for, stored on the change: filled at ingest, rewritten when
ownership changes (a pipeline's team, a component's owner, an alias), filtered by, backfilled."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from changes import ownership
from changes.filters import ChangeFilter
from changes.models import ChangeEvent
from incidents import insights
from pipelines.models import DeploymentPipeline
from teams.models import Component, Team
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import KEY, pipeline_for, post_json, post_raw
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory, UserFactory
from tests.teams.test_config_api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def payments() -> Team:
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def search() -> Team:
    return TeamFactory(slug="search", name="Search")


@pytest.fixture
def staff(client):
    user = UserFactory(username="root", is_staff=True)
    client.force_login(user)
    return user


def teams_of(*changes: ChangeEvent) -> list[str | None]:
    stored = ChangeEvent.objects.in_bulk([change.pk for change in changes])
    return [stored[change.pk].team.slug if stored[change.pk].team else None for change in changes]


def record_manual(client, component: str, summary: str) -> ChangeEvent:
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    form = {
        "component": component,
        "summary": summary,
        "kind": "manual",
        "environment": "production",
        "occurred_at": now,
    }
    assert client.post(reverse("changes:new"), form).status_code == 302
    return ChangeEvent.objects.get(summary=summary)


def listed(client, **params: str) -> set[str]:
    """The summaries the deployments page lists under these filters."""
    response = client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    return {change.summary for change in response.context["page"].items}


# --- at ingest --------------------------------------------------------------------------------


def test_a_pipeline_change_counts_for_its_pipeline_team(client, payments, search):
    ComponentFactory(name="search-api", owner_team=search)  # another team's component
    pipeline_for("alert24", team=payments)

    assert post_json(client, {"component": "search-api", "summary": "one"}).status_code == 202
    rollout = {"component": "search-api", "summary": "two", "deployment_id": "run-1"}
    assert post_json(client, {**rollout, "outcome": "started"}).status_code == 202
    assert post_json(client, {**rollout, "outcome": "succeeded"}).status_code == 202

    assert teams_of(*ChangeEvent.objects.order_by("pk")) == ["payments", "payments"]


def test_a_batch_stores_the_pipeline_team_on_every_change(client, payments):
    pipeline_for("alert24", team=payments)
    body = {"changes": [{"component": "a", "summary": f"batch {n}"} for n in range(3)]}
    body["changes"].append({"component": "a", "summary": "a rollout", "deployment_id": "run-9"})

    response = post_raw(
        client, "/api/v1/changes/batch", json.dumps(body), {"Authorization": f"Bearer {KEY}"}
    )

    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.count() == 4
    assert set(ChangeEvent.objects.values_list("team__slug", flat=True)) == {"payments"}


def test_a_manual_change_counts_for_its_component_owner_then_an_alias_resolves_it(
    client, staff, payments, django_capture_on_commit_callbacks
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    owned = record_manual(client, "payments-service", "Raised the pool by hand")
    stray = record_manual(client, "payments-prod", "Flushed the cache by hand")
    assert teams_of(owned, stray) == ["payments", None]

    form = {"name": "payments-service", "owner_team": payments.pk, "aliases": "payments-prod"}
    with django_capture_on_commit_callbacks(execute=True):  # the re-resolving task runs
        response = client.post(reverse("settings:component-edit", args=[component.slug]), form)

    assert response.status_code == 302, response.content
    assert ChangeEvent.objects.get(pk=stray.pk).resolved_component == component
    assert teams_of(owned, stray) == ["payments", "payments"]


def test_a_cached_pipeline_naming_a_deleted_team_still_records(transactional_db, client, payments):
    # The ingest caches the pipeline: after its team is deleted (its pipelines' team set null
    # by one UPDATE, no signal), the cached copy still names the team, whose foreign key then
    # fails at commit. The change is recorded once more, with the team read afresh.
    pipeline_for("alert24", team=payments)
    assert post_json(client, {"component": "a", "summary": "before"}).status_code == 202
    payments.delete()

    response = post_json(client, {"component": "a", "summary": "after"})

    assert response.status_code == 202, response.content
    assert list(ChangeEvent.objects.order_by("pk").values_list("summary", "team")) == [
        ("before", None),
        ("after", None),
    ]


# --- rewritten when ownership changes ---------------------------------------------------------


def test_a_pipeline_moving_team_in_settings_takes_its_history_along(
    client, staff, payments, search, django_capture_on_commit_callbacks
):
    pipeline = DeploymentPipelineFactory(team=payments, kind="generic")
    moved = [ChangeEventFactory(pipeline=pipeline, summary=f"moved {n}") for n in range(3)]
    stays = ChangeEventFactory(pipeline=DeploymentPipelineFactory(team=payments), summary="stays")
    form = {"name": pipeline.name, "kind": "generic", "team": search.pk, "auth_mode": "key"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("settings:integration-edit", args=["pipelines", pipeline.pk]), form
        )

    assert response.status_code == 302, response.content
    assert teams_of(*moved, stays) == ["search", "search", "search", "payments"]
    assert listed(client, team="search") == {"moved 0", "moved 1", "moved 2"}
    assert listed(client, team="payments") == {"stays"}


def test_a_pipeline_moving_team_through_the_api_takes_its_history_along(
    payments, search, django_capture_on_commit_callbacks
):
    pipeline = DeploymentPipelineFactory(team=payments)
    change = ChangeEventFactory(pipeline=pipeline)
    staff = Api(UserFactory(username="root", is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.patch(f"/api/v1/pipelines/{pipeline.pk}", {"team": None})

    assert response.status_code == 200, response.content
    assert teams_of(change) == [None]


def test_a_component_changing_owner_takes_its_manual_changes_along(
    client, payments, search, django_capture_on_commit_callbacks
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    manual = ChangeEventFactory(pipeline=None, resolved_component=component, idempotency_key="")
    # A pipeline's change stays its pipeline's, whoever owns the component.
    piped = ChangeEventFactory(
        pipeline=DeploymentPipelineFactory(team=payments), resolved_component=component
    )
    staff = Api(UserFactory(username="root", is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.patch(f"/api/v1/components/{component.slug}", {"owner_team": "search"})

    assert response.status_code == 200, response.content
    assert teams_of(manual, piped) == ["search", "payments"]


def test_a_deleted_pipeline_s_changes_count_for_their_component_owners(
    payments, search, django_capture_on_commit_callbacks
):
    component = ComponentFactory(name="search-api", owner_team=search)
    pipeline = DeploymentPipelineFactory(team=payments)
    change = ChangeEventFactory(pipeline=pipeline, resolved_component=component)
    uncatalogued = ChangeEventFactory(pipeline=pipeline, component="nowhere")
    staff = Api(UserFactory(username="root", is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        assert staff.delete(f"/api/v1/pipelines/{pipeline.pk}").status_code == 204

    assert teams_of(change, uncatalogued) == ["search", None]


def test_a_deleted_component_s_manual_changes_count_for_no_team(
    client, staff, payments, django_capture_on_commit_callbacks
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    manual = record_manual(client, "payments-service", "By hand")

    with django_capture_on_commit_callbacks(execute=True):
        url = reverse("settings:component-delete", args=[component.slug])
        assert client.post(url).status_code == 302

    assert teams_of(manual) == [None]


def test_the_rewrite_goes_range_by_range_and_twice_changes_nothing(payments, search, monkeypatch):
    monkeypatch.setattr(ownership, "REWRITE_CHUNK", 2)
    pipeline = DeploymentPipelineFactory(team=payments)
    changes = [ChangeEventFactory(pipeline=pipeline) for _ in range(7)]
    ChangeEventFactory(pipeline=DeploymentPipelineFactory(team=payments))  # another pipeline's
    DeploymentPipeline.objects.filter(pk=pipeline.pk).update(team=search)

    assert ownership.rewrite_change_teams(pipeline_id=pipeline.pk) == 7
    assert set(teams_of(*changes)) == {"search"}
    assert ownership.rewrite_change_teams(pipeline_id=pipeline.pk) == 0
    assert ChangeEvent.objects.filter(team=payments).count() == 1


def test_rewriting_everything_applies_both_rules(payments, search):
    """After any drift (here: rows written behind the services' back), a rewrite of every change
    puts each where the rule says."""
    owned = ComponentFactory(name="search-api", owner_team=search)
    changes = [
        ChangeEventFactory(pipeline=DeploymentPipelineFactory(team=payments)),
        ChangeEventFactory(pipeline=DeploymentPipelineFactory(team=None), resolved_component=owned),
        ChangeEventFactory(pipeline=None, resolved_component=owned, idempotency_key=""),
        ChangeEventFactory(pipeline=None, idempotency_key=""),
    ]
    ChangeEvent.objects.update(team=None)
    ChangeEvent.objects.filter(pk=changes[3].pk).update(team=payments)

    assert ownership.rewrite_change_teams() == 3
    assert teams_of(*changes) == ["payments", None, "search", None]


# --- read ---------------------------------------------------------------------------------------


def mixed_history(payments: Team, search: Team) -> None:
    """Changes of every kind the rule tells apart."""
    theirs = ComponentFactory(name="search-api", owner_team=search)
    ours = ComponentFactory(name="payments-service", owner_team=payments)
    unowned = ComponentFactory(name="shared-db", owner_team=None)
    pipelines = [
        DeploymentPipelineFactory(team=payments),
        DeploymentPipelineFactory(team=search),
        DeploymentPipelineFactory(team=None),
    ]
    for pipeline in [*pipelines, None]:
        for component in (theirs, ours, unowned, None):
            ChangeEventFactory(
                pipeline=pipeline,
                resolved_component=component,
                component=component.name if component else "elsewhere",
                summary=f"{pipeline} {component}",
                idempotency_key="" if pipeline is None else f"{pipeline}-{component}",
            )


def test_the_team_filter_gives_what_the_rule_over_joins_gave(payments, search):
    mixed_history(payments, search)

    for team in (payments, search):
        filtered = ChangeFilter({"team": team.slug}, queryset=ChangeEvent.objects.all()).qs
        by_joins = ChangeEvent.objects.filter(
            Q(pipeline__team=team) | Q(pipeline__isnull=True, resolved_component__owner_team=team)
        )
        assert set(filtered) == set(by_joins)
        assert len(by_joins) == 5  # its pipeline's four, and the manual one of its component


def test_insights_count_teams_as_before(payments, search):
    mixed_history(payments, search)
    ChangeEvent.objects.update(environment="production", kind="deployment")
    now = timezone.now()

    rows = insights.delivery(since=now - timedelta(days=1), until=now, by="team")

    # A team-less pipeline's change counts for its component's owner in Insights, as before.
    assert {row.label: row.deployments for row in rows} == {
        "Payments": 6,
        "Search": 6,
        insights.NO_TEAM: 4,
    }


@pytest.mark.parametrize("count", [10, 1000])
def test_the_team_filtered_page_costs_a_constant_number_of_queries(
    logged_in_client, payments, count, django_assert_num_queries
):
    pipeline = DeploymentPipelineFactory(team=payments)
    now = timezone.now()
    ChangeEvent.objects.bulk_create(
        ChangeEvent(
            pipeline=pipeline,
            team=payments,
            occurred_at=now - timedelta(minutes=n),
            received_at=now,
            component=f"service-{n % 7}",
            summary=f"Deploy {n}",
        )
        for n in range(count)
    )

    # The session, the user, the filter's team, the rows (one index range: no joins to filter
    # by), the other pipelines' reports of them, the poll's cursor, the chart, the team and
    # pipeline options, the open-incident banner.
    with django_assert_num_queries(10):
        assert len(listed(logged_in_client, team="payments")) == min(count, 50)


def test_the_seed_commands_store_each_change_s_team():
    call_command("bench_seed", changes=300, incidents=0, components=8, pipelines=10, teams=3)
    call_command("seed_demo", verbosity=0)

    assert ChangeEvent.objects.count() > 300
    by_joins = ChangeEvent.objects.filter(
        Q(pipeline__team=F("team")) | Q(pipeline=None, resolved_component__owner_team=F("team"))
    )
    assert by_joins.count() == ChangeEvent.objects.exclude(team=None).count()
    # One in ten bench pipelines has no team: their changes count for none.
    assert (
        ChangeEvent.objects.filter(team=None).count()
        == ChangeEvent.objects.filter(pipeline__team=None).count()
    )


# --- the migration ------------------------------------------------------------------------------

BEFORE = [("changes", "0006_remove_settings_test_changes")]
MIGRATION = [("changes", "0007_change_team")]


@pytest.fixture
def migrated_back(transactional_db):
    """The schema just before the migration, and the historical models to fill it; migrated to
    the latest again afterwards, whatever the test did."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_fills_the_team_of_every_change(migrated_back):
    apps = migrated_back
    HistoricalTeam = apps.get_model("teams", "Team")
    HistoricalComponent = apps.get_model("teams", "Component")
    Pipeline = apps.get_model("pipelines", "DeploymentPipeline")
    HistoricalChange = apps.get_model("changes", "ChangeEvent")
    payments = HistoricalTeam.objects.create(slug="payments", name="Payments")
    search = HistoricalTeam.objects.create(slug="search", name="Search")
    owned = HistoricalComponent.objects.create(
        name="search-api", slug="search-api", owner_team=search
    )
    unowned = HistoricalComponent.objects.create(name="shared-db", slug="shared-db")
    ours = Pipeline.objects.create(name="payments-ci", key_hash="a" * 64, team=payments)
    teamless = Pipeline.objects.create(name="terraform", key_hash="b" * 64)
    at = timezone.now()

    def change(pipeline, component):
        return HistoricalChange.objects.create(
            pipeline=pipeline,
            resolved_component=component,
            occurred_at=at,
            started_at=at,
            received_at=at,
        ).pk

    expected = {
        change(ours, owned): payments.pk,  # the pipeline's team, whoever owns the component
        change(ours, None): payments.pk,
        change(teamless, owned): None,
        change(None, owned): search.pk,  # manual: the component's owner
        change(None, unowned): None,
        change(None, None): None,
    }

    MigrationExecutor(connection).migrate(MIGRATION)

    assert dict(ChangeEvent.objects.values_list("pk", "team_id")) == expected
    assert Component.objects.count() == 2  # nothing else touched
