"""The data migration that removes the changes Settings' old "Send test event" recorded."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("changes", "0005_time_index_with_start"), ("incidents", "0006_alerts")]
MIGRATION = [("changes", "0006_remove_settings_test_changes")]


@pytest.fixture
def migrated_back(transactional_db):
    """The schema just before the migration, and the historical models to fill it; the
    schema is migrated to the latest again afterwards, whatever the test did."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_old_test_changes_go_and_suspects_close_up(migrated_back):
    apps = migrated_back
    Pipeline = apps.get_model("pipelines", "DeploymentPipeline")
    ChangeEvent = apps.get_model("changes", "ChangeEvent")
    Incident = apps.get_model("incidents", "Incident")
    SuspectChange = apps.get_model("incidents", "SuspectChange")
    now = timezone.now()
    pipeline = Pipeline.objects.create(name="github", key_hash="h" * 64, kind="generic")

    def change(summary: str, **fields: object):
        at = now - timedelta(minutes=5)
        values = {"component": "whatchanged-test", "environment": "test", "kind": "other"}
        values.update(fields)
        return ChangeEvent.objects.create(
            pipeline=pipeline,
            summary=summary,
            occurred_at=at,
            started_at=at,
            received_at=at,
            **values,
        )

    old_test = change("Test event sent from Settings by lead", triggered_by="lead")
    # Look-alikes a producer might send: each differs from the button's in one field.
    kept = [
        change("Test event sent from Settings by lead", environment="production"),
        change("Test event sent from Settings by lead", kind="deployment"),
        change("Test event sent from Settings by lead", version="v1"),
        change("Deploy whatchanged-test"),
        change("Deploy payments", component="payments-service", environment="production"),
    ]
    incident = Incident.objects.create(
        title="HighErrorRate", alias="HighErrorRate", started_at=now, last_alert_at=now
    )
    for rank, suspect in enumerate([old_test, kept[-1], kept[3]], start=1):
        SuspectChange.objects.create(incident=incident, change=suspect, score=1.0, rank=rank)

    MigrationExecutor(connection).migrate(MIGRATION)

    assert set(ChangeEvent.objects.values_list("pk", flat=True)) == {c.pk for c in kept}
    ranked = SuspectChange.objects.filter(incident=incident).order_by("rank")
    assert [(s.rank, s.change_id) for s in ranked] == [(1, kept[-1].pk), (2, kept[3].pk)]
