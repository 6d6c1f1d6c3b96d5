"""Settings' "Send test event": logged in the pipeline's deliveries, never recorded as a change,
so never in the feed, its poll, the API, correlation or an incident's page and postmortem."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from incidents.correlation import correlate_incident
from pipelines.models import Delivery
from teams.services import create_api_token
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import MembershipFactory

pytestmark = pytest.mark.django_db

TEST_SUMMARY = "Test event sent from Settings by lead"


@pytest.fixture
def admin():
    return MembershipFactory(role="admin", user__username="lead")


def press_the_button(admin, pipeline) -> tuple[Client, str]:
    """As the browser does it: the pipeline's page, then its form's POST with the CSRF token.
    Returns the client and the page the button leads back to."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    page_url = reverse("settings:integration", args=["pipelines", pipeline.pk])
    assert client.get(page_url).status_code == 200
    pressed = client.post(
        reverse("changes:pipeline-test-event", args=[pipeline.pk]),
        {"csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )
    assert pressed.status_code == 302
    assert pressed["Location"] == page_url
    return client, client.get(page_url).content.decode()


def test_a_test_event_is_a_delivery_and_nowhere_else(admin):
    pipeline = DeploymentPipelineFactory(team=admin.team, name="payments-github")
    # A real change of the same pipeline, where the test would have landed: the control.
    real = ChangeEventFactory(
        pipeline=pipeline,
        component="whatchanged-test",
        summary="Deploy payments v2",
        occurred_at=timezone.now() - timedelta(minutes=5),
    )
    incident = IncidentFactory(alert_source=AlertSourceFactory(team=admin.team))

    client, page = press_the_button(admin, pipeline)

    assert "Test event received: see it under Recent deliveries below" in page
    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.event_type, delivery.status_code, delivery.outcome) == (
        "test",
        200,
        Delivery.Outcome.ACCEPTED,
    )
    assert delivery.reason == (
        f'test event: would record "{TEST_SUMMARY}" (other, whatchanged-test in test)'
        " — not added to the deployments feed"
    )
    assert f'id="delivery-{delivery.pk}"' in page
    assert "test event: would record &quot;Test event sent from Settings by lead&quot;" in page
    assert '"component": "whatchanged-test"' in delivery.payload
    assert list(ChangeEvent.objects.all()) == [real]

    feed = client.get(reverse("changes:list")).content.decode()
    assert "Deploy payments v2" in feed and TEST_SUMMARY not in feed
    assert client.get(reverse("changes:poll"), {"after": real.pk}).status_code == 204
    _, token = create_api_token(user=admin.user)
    listed = client.get("/api/v1/changes", HTTP_AUTHORIZATION=f"Token {token}").json()
    assert [change["summary"] for change in listed["results"]] == ["Deploy payments v2"]

    suspects = correlate_incident(incident_id=incident.pk)
    assert [suspect.change for suspect in suspects] == [real]
    incident_page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Deploy payments v2" in incident_page and TEST_SUMMARY not in incident_page


def test_a_disabled_pipeline_refuses_the_test_event_as_its_ingest_would(admin):
    pipeline = DeploymentPipelineFactory(team=admin.team, enabled=False)

    _, page = press_the_button(admin, pipeline)

    delivery = Delivery.objects.get(pipeline=pipeline)
    assert (delivery.status_code, delivery.outcome) == (403, Delivery.Outcome.REJECTED)
    assert delivery.reason.startswith("test event: This integration is disabled")
    assert "Test event refused: see why under Recent deliveries below." in page
    assert not ChangeEvent.objects.exists()


def test_the_test_event_takes_a_fixed_number_of_queries(admin, django_assert_num_queries):
    pipeline = DeploymentPipelineFactory(team=admin.team)
    client = Client()
    client.force_login(admin.user)
    url = reverse("changes:pipeline-test-event", args=[pipeline.pk])

    # Session, user, pipeline, membership, the delivery (the message is kept in the session).
    with django_assert_num_queries(5):
        assert client.post(url).status_code == 302
    assert Delivery.objects.filter(pipeline=pipeline, event_type="test").count() == 1
