"""The component page, and Settings' "send test event" buttons."""

import pytest
from django.urls import reverse

from changes.models import ChangeEvent
from incidents.models import Incident, IncidentComponent
from pipelines.models import Delivery
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.settings_actors import ACTORS, ALLOWED, cast
from tests.teams.factories import ComponentFactory

pytestmark = pytest.mark.django_db


def test_component_page_shows_its_changes_and_incidents(
    logged_in_client, django_assert_max_num_queries
):
    payments = ComponentFactory(name="payments-service")
    payments.aliases.create(name="payments-prod")
    change = ChangeEventFactory(
        component="payments-prod", resolved_component=payments, summary="Deploy v9"
    )
    ChangeEventFactory(
        same_as=change,
        resolved_component=payments,
        summary="Grouped report",
        pipeline=DeploymentPipelineFactory(name="Deploy script"),
    )
    ChangeEventFactory(component="search-api", summary="Unrelated deploy")
    incident = IncidentFactory(title="<b>Payments down</b>")
    IncidentComponent.objects.create(incident=incident, name="payments-service", component=payments)

    with django_assert_max_num_queries(10):
        page = logged_in_client.get(reverse("incidents:component", args=[payments.slug]))
    body = page.content.decode()
    assert "Deploy v9" in body and "Unrelated deploy" not in body
    assert "Grouped report" not in body and "also reported by Deploy script" in body
    assert "&lt;b&gt;Payments down&lt;/b&gt;" in body and "payments-prod" in body
    assert logged_in_client.get(reverse("incidents:component", args=["nope"])).status_code == 404


@pytest.mark.parametrize("actor", ACTORS)
def test_test_events_are_for_the_teams_admins(client, actor):
    people = cast()
    pipeline = DeploymentPipelineFactory(team=people.team)
    source = AlertSourceFactory(team=people.team)
    client.force_login(people.users[actor])

    change = client.post(reverse("changes:pipeline-test-event", args=[pipeline.pk]))
    alert = client.post(reverse("incidents:alert-source-test-event", args=[source.pk]))

    expected = 302 if ALLOWED[actor] else 403
    assert (change.status_code, alert.status_code) == (expected, expected)
    assert not ChangeEvent.objects.exists()  # a test event is only a delivery
    assert Incident.objects.filter(alert_source=source, severity="info").exists() is ALLOWED[actor]
    if ALLOWED[actor]:
        assert Delivery.objects.filter(event_type="test").count() == 2
        page = client.get(change["Location"]).content.decode()
        assert "Test event received" in page and "test event: would record" in page


def test_a_test_alert_is_no_incident_of_the_sources_components(client):
    """The test incident shows the wiring works; it names no component, so component pages
    and the change failure rate never count it."""
    people = cast()
    payments = ComponentFactory(name="payments-service")
    source = AlertSourceFactory(team=people.team, default_components=["payments-service"])
    client.force_login(people.users["team-admin"])

    answer = client.post(reverse("incidents:alert-source-test-event", args=[source.pk]))

    assert answer.status_code == 302
    incident = Incident.objects.get(alert_source=source)
    assert not incident.components.exists()
    page = client.get(reverse("incidents:component", args=[payments.slug])).content.decode()
    assert "Test alert sent from Settings" not in page
