import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from changes.models import ChangeEvent
from incidents.management.commands import bench_seed as bench_seed_command
from incidents.models import Alert, Incident, IncidentComponent, SuspectChange, TimelineEntry
from pipelines.models import AlertSource, DeploymentPipeline
from teams.components import resolve_components
from teams.models import Component, ComponentAlias, Team
from tests.changes.factories import ChangeEventFactory
from tests.conftest import postgres_only
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory

pytestmark = pytest.mark.django_db

SMALL = {
    "changes": 2000,
    "incidents": 50,
    "components": 20,
    "pipelines": 10,
    "alert_sources": 6,
    "teams": 4,
}


def bench_seed(capsys: pytest.CaptureFixture[str], **options: object) -> dict:
    call_command("bench_seed", **{**SMALL, **options})
    return json.loads(capsys.readouterr().out)


def counts() -> dict[str, int]:
    return {
        "teams": Team.objects.count(),
        "components": Component.objects.count(),
        "aliases": ComponentAlias.objects.count(),
        "pipelines": DeploymentPipeline.objects.count(),
        "alert_sources": AlertSource.objects.count(),
        "changes": ChangeEvent.objects.count(),
        "incidents": Incident.objects.count(),
        "incident_components": IncidentComponent.objects.count(),
        "timeline_entries": TimelineEntry.objects.count(),
    }


def test_loads_the_counts_asked_for_with_consistent_relations(capsys):
    summary = bench_seed(capsys)

    assert counts() == {name: summary[name] for name in counts()}
    assert summary["changes"] == 2000 and summary["incidents"] == 50
    assert (summary["teams"], summary["components"], summary["pipelines"]) == (4, 20, 10)
    assert summary["method"] == ("copy" if connection.vendor == "postgresql" else "bulk_create")
    assert summary["aliases"] > 0 and summary["dependencies"] > 0
    assert not Component.objects.filter(owner_team=None).exists()
    assert Component.depends_on.through.objects.count() == summary["dependencies"]

    # Each incident holds its one alert, firing while the incident is open.
    alerts = Alert.objects.all()
    assert alerts.count() == 50
    assert not alerts.exclude(alias=F("incident__alias")).exists()
    resolved_alerts = alerts.filter(status="resolved").count()
    assert resolved_alerts == Incident.objects.filter(status="resolved").count()

    changes = ChangeEvent.objects.all()
    assert not changes.filter(Q(resolved_component=None) | Q(correlated_at=None)).exists()
    assert not changes.exclude(idempotency_key__startswith="bench-").exists()
    assert changes.values("idempotency_key").distinct().count() == 2000
    # A team's pipeline changes the team's components; team-less ones may change anything.
    team_pipelines = changes.filter(pipeline__team__isnull=False)
    assert team_pipelines.exists()
    assert not team_pipelines.exclude(resolved_component__owner_team=F("pipeline__team")).exists()
    # The name as sent is the component's name or one of its aliases, and both occur.
    sent = set(changes.values_list("component", "resolved_component").distinct())
    resolved = resolve_components([name for name, _ in sent])
    assert all(resolved[name].id == component_id for name, component_id in sent)
    assert changes.filter(component=F("resolved_component__name")).count() > 1000
    assert changes.exclude(component=F("resolved_component__name")).exists()
    assert changes.filter(environment="production").count() > 1000
    assert 80 <= changes.filter(outcome="failed").count() <= 260  # ~8% of 2,000
    assert changes.filter(kind="deployment").count() > 1000
    assert changes.exclude(links=[]).exists() and not changes.filter(metadata={}).exists()
    now = timezone.now()
    assert not changes.filter(occurred_at__lt=now - timedelta(days=90)).exists()
    assert not changes.filter(occurred_at__gt=now).exists()

    pipelines = DeploymentPipeline.objects.all()
    assert 0 < pipelines.filter(team=None).count() < pipelines.count() / 2
    assert pipelines.values("kind").distinct().count() >= 3
    assert AlertSource.objects.values("kind").distinct().count() >= 3

    incidents = Incident.objects.annotate(
        component_count=Count("components", distinct=True),
        alert_entries=Count("timeline", filter=Q(timeline__kind="alert"), distinct=True),
        entry_count=Count("timeline", distinct=True),
    )
    assert {incident.component_count for incident in incidents} <= {1, 2}
    assert {incident.alert_entries for incident in incidents} == {1}
    assert all(incident.entry_count >= 2 for incident in incidents.filter(status="resolved"))
    assert not incidents.filter(correlated_at=None).exists()
    assert incidents.filter(status="resolved").count() >= 45
    assert not IncidentComponent.objects.filter(component=None).exists()
    assert not SuspectChange.objects.exists()  # benchmarks correlate on demand


def test_teams_without_components_get_no_pipelines(capsys):
    bench_seed(capsys, teams=5, components=3, changes=300, incidents=10)

    owners = set(Component.objects.values_list("owner_team", flat=True))
    assert len(owners) == 3
    assert (
        set(DeploymentPipeline.objects.exclude(team=None).values_list("team", flat=True)) <= owners
    )
    changes = ChangeEvent.objects.filter(pipeline__team__isnull=False)
    assert not changes.exclude(resolved_component__owner_team=F("pipeline__team")).exists()


def test_a_second_run_without_reset_exits_2_and_changes_nothing(capsys):
    bench_seed(capsys)
    before = counts()

    with pytest.raises(CommandError, match="--reset") as refused:
        call_command("bench_seed", **SMALL)

    assert refused.value.returncode == 2
    assert counts() == before


def test_reset_replaces_bench_data_and_keeps_everything_else(capsys):
    own_change = ChangeEventFactory()
    own_incident = IncidentFactory()
    bench_seed(capsys)
    bench_change = ChangeEvent.objects.filter(idempotency_key__startswith="bench-").last()
    # Benchmarks correlate on demand: suspects point at bench rows from both sides.
    SuspectChangeFactory(incident=Incident.objects.filter(alias__startswith="bench-").first())
    SuspectChangeFactory(incident=own_incident, change=bench_change)

    summary = bench_seed(capsys, reset=True, changes=300, incidents=5, teams=2, seed=2)

    assert summary["deleted"] == {"changes": 2000, "incidents": 50}
    assert summary["changes"] == 300 and summary["incidents"] == 5
    assert ChangeEvent.objects.filter(idempotency_key__startswith="bench-").count() == 300
    assert Incident.objects.filter(alias__startswith="bench-").count() == 5
    assert Incident.objects.filter(pk=own_incident.pk).exists()
    assert not SuspectChange.objects.exists()
    assert Team.objects.filter(slug__startswith="bench-").count() == 2
    assert ChangeEvent.objects.filter(pk=own_change.pk, pipeline=own_change.pipeline).exists()
    assert Team.objects.filter(pk=own_change.pipeline.team_id).exists()


@postgres_only
def test_postgresql_loads_changes_and_timeline_by_copy(capsys):
    with CaptureQueriesContext(connection) as queries:
        summary = bench_seed(capsys)

    inserts = [query["sql"] for query in queries if query["sql"].startswith("INSERT")]
    tables = {sql.split('"')[1] for sql in inserts}
    assert summary["method"] == "copy"
    assert tables.isdisjoint({"changes_changeevent", "incidents_timelineentry"})
    assert "incidents_incident" in tables  # bulk_create: the timeline needs the ids back
    assert ChangeEvent.objects.count() == 2000
    assert TimelineEntry.objects.count() == summary["timeline_entries"] > 0


@postgres_only
def test_a_big_load_drops_and_rebuilds_the_plain_indexes_and_foreign_keys(capsys, monkeypatch):
    monkeypatch.setattr(bench_seed_command, "REBUILD_INDEXES_FROM", 1000)  # 2,000 is "big"
    bench_seed(capsys, changes=0, incidents=0)
    before, keys_before = index_definitions(), foreign_keys()

    with CaptureQueriesContext(connection) as queries:
        bench_seed(capsys, reset=True)

    dropped = [query["sql"] for query in queries if query["sql"].startswith("DROP INDEX")]
    assert len(dropped) == len([sql for sql in before if "UNIQUE" not in sql]) >= 5
    assert index_definitions() == before
    dropped = [query["sql"] for query in queries if "DROP CONSTRAINT" in query["sql"]]
    assert len(dropped) == len(keys_before) >= 5
    assert foreign_keys() == keys_before  # deferrable as before, and valid
    assert ChangeEvent.objects.count() == 2000


def foreign_keys() -> list[tuple[str, str, bool]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [ChangeEvent._meta.db_table],
        )
        return cursor.fetchall()


def index_definitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
            [ChangeEvent._meta.db_table],
        )
        return [definition for (definition,) in cursor.fetchall()]
