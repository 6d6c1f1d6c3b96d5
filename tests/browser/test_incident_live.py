"""An open incident page follows what happens without a reload: a deployment recorded while it
is open is ranked in by the poll, and an action's notice goes when someone changes the status."""

import json
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents import correlation
from incidents.models import Incident, IncidentComponent
from tests.browser.conftest import screenshot
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, UserFactory

KEY = "payments-ci-key-0123"
POLL = 15_000  # the page polls every 5 s: three chances


def test_a_change_recorded_while_the_page_is_open_is_ranked_first_without_a_reload(
    logged_in_page: Page,
):
    payments = ComponentFactory(name="payments-service", owner_team=None)
    DeploymentPipelineFactory(team=None, key=KEY)
    started = timezone.now() - timedelta(minutes=20)
    incident = IncidentFactory(title="HighErrorRate", started_at=started, environment="production")
    IncidentComponent.objects.create(incident=incident, name=payments.name, component=payments)
    ChangeEventFactory(
        component="payments-service",
        resolved_component=payments,
        environment="production",
        version="v4.6.0",
        pipeline=DeploymentPipelineFactory(team=None),
        occurred_at=started - timedelta(minutes=30),
    )
    correlation.correlate_incident(incident_id=incident.pk)
    page = logged_in_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(reverse("incidents:detail", args=[incident.pk]))
    suspects = page.locator("#suspects li.suspect")
    expect(suspects).to_have_count(1)
    expect(suspects.first).to_contain_text("v4.6.0")

    # The deployment arrives through the ingest API while the page is open.
    answer = page.request.post(
        "/api/v1/changes",
        data=json.dumps(
            {
                "component": "payments-service",
                "environment": "production",
                "version": "v4.7.0",
                "description": "Deploy v4.7.0",
                "occurred_at": (started - timedelta(minutes=4)).isoformat(),
            }
        ),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert answer.status == 202, answer.text()

    expect(suspects).to_have_count(2, timeout=POLL)
    expect(suspects.first.locator(".rank")).to_have_text("#1")
    expect(suspects.first).to_contain_text("v4.7.0")
    expect(suspects.nth(1)).to_contain_text("v4.6.0")
    expect(page.locator("#suspects .conclusion")).to_contain_text(
        "Likely cause: payments-service v4.7.0 deployed 4 min before"
    )
    screenshot(page, "incident-live-1440")

    # Confirmed by us; then a teammate acknowledges: the notice goes with the old status.
    suspects.first.locator("button:has-text('Confirmed cause')").click()
    notice = page.locator("#incident-messages")
    expect(notice).to_have_text("Marked as confirmed cause.")
    teammate = Client()
    teammate.force_login(UserFactory(username="dana"))
    teammate.post(reverse("incidents:acknowledge", args=[incident.pk]), headers={"HX-Request": "1"})
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.ACKNOWLEDGED
    expect(page.locator("#incident-head .badge.status-acknowledged")).to_be_visible(timeout=POLL)
    expect(notice).to_have_text("")
