"""The rules the database itself enforces, whatever code path writes."""

import pytest
from django.db import IntegrityError, connection, transaction

from incidents.models import Incident
from tests.changes.factories import ChangeEventFactory
from tests.conftest import postgres_only
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory

pytestmark = pytest.mark.django_db


def test_idempotency_key_is_unique_per_pipeline():
    change = ChangeEventFactory(idempotency_key="delivery-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeEventFactory(pipeline=change.pipeline, idempotency_key="delivery-1")


def test_same_idempotency_key_on_another_pipeline_is_another_change():
    ChangeEventFactory(idempotency_key="delivery-1")
    ChangeEventFactory(pipeline=DeploymentPipelineFactory(), idempotency_key="delivery-1")


def test_changes_without_idempotency_key_never_collide():
    pipeline = DeploymentPipelineFactory()
    ChangeEventFactory(pipeline=pipeline, idempotency_key="")
    ChangeEventFactory(pipeline=pipeline, idempotency_key="")


@pytest.mark.parametrize("status", [Incident.Status.TRIGGERED, Incident.Status.ACKNOWLEDGED])
def test_one_open_incident_per_source_and_alias(status):
    incident = IncidentFactory(alias="cloudwatch-HighErrorRate", status=status)
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentFactory(alert_source=incident.alert_source, alias="cloudwatch-HighErrorRate")


def test_resolved_incidents_do_not_block_a_new_one():
    source = AlertSourceFactory()
    IncidentFactory(alert_source=source, alias="flapping", status=Incident.Status.RESOLVED)
    IncidentFactory(alert_source=source, alias="flapping", status=Incident.Status.RESOLVED)
    IncidentFactory(alert_source=source, alias="flapping", status=Incident.Status.TRIGGERED)


def test_same_alias_on_two_sources_is_two_incidents():
    IncidentFactory(alias="HighErrorRate")
    IncidentFactory(alias="HighErrorRate")


def test_a_change_is_suspected_once_per_incident():
    suspect = SuspectChangeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SuspectChangeFactory(incident=suspect.incident, change=suspect.change, rank=2)


@postgres_only
def test_firing_alert_rule_is_a_partial_unique_index_on_postgres():
    """One firing alert per source and alias (the incident holding it is open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            ["uniq_firing_alert_per_source_alias"],
        )
        (definition,) = cursor.fetchone()
    assert definition.startswith("CREATE UNIQUE INDEX")
    assert "WHERE" in definition
    assert "triggered" in definition


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("changes_changeevent", ["occurred_at", "id", "started_at"]),
        ("changes_changeevent", ["component", "occurred_at"]),
        ("changes_changeevent", ["pipeline_id", "occurred_at"]),
        ("incidents_incident", ["status", "started_at"]),
        ("incidents_incident", ["alert_source_id", "alias"]),
    ],
)
def test_the_queries_the_design_needs_are_indexed(table, columns):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = [c["columns"] for c in constraints.values() if c["index"] or c["unique"]]
    assert columns in indexed
