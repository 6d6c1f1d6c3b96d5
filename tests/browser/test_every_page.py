"""Every page on the demo data, at a laptop's 1440x900 and a phone's 390x844: nothing wider
than its container, and a screenshot of each in test-results/screenshots/."""

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page

from changes.models import ChangeEvent
from incidents.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from incidents.models import Incident
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, Team
from tests.browser.conftest import assert_nothing_overflows, screenshot

FIRST_SCREENS = {"deployments", "incident"}
VIEWPORTS = {"1440": {"width": 1440, "height": 900}, "390": {"width": 390, "height": 844}}


def demo_pages() -> dict[str, str]:
    """Each page a user can reach from the navigation, on the demo's own rows."""
    change = ChangeEvent.objects.logical().order_by("-occurred_at").first()
    incident = Incident.objects.order_by("-started_at").first()
    component = Component.objects.filter(depends_on__isnull=False).first()
    pipeline = DeploymentPipeline.objects.order_by("pk").first()
    source = AlertSource.objects.order_by("pk").first()
    team = Team.objects.order_by("slug").first()
    return {
        "deployments": "/",
        "change": f"/changes/{change.pk}/",
        "change-form": "/changes/new",
        "incidents": "/incidents/",
        "incident": f"/incidents/{incident.pk}/",
        "insights": "/incidents/insights/",
        "component": f"/incidents/components/{component.slug}/",
        "settings": "/settings/",
        "team": f"/settings/teams/{team.slug}/",
        "components": "/settings/components/",
        "component-form": f"/settings/components/{component.slug}/edit",
        "audit-log": "/settings/audit/",
        "pipeline": f"/settings/pipelines/{pipeline.pk}/",
        "pipeline-form": f"/settings/pipelines/{pipeline.pk}/edit",
        "alert-source": f"/settings/alert-sources/{source.pk}/",
        "alert-source-form": f"/settings/alert-sources/{source.pk}/edit",
        "profile": "/profile/",
    }


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_page_fits_its_screen(browser: Browser, live_server, transactional_db, size: str):
    call_command("seed_demo", verbosity=0)
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORTS[size], timezone_id="Europe/Berlin"
    )
    page: Page = context.new_page()
    page.goto("/login/")
    screenshot(page, f"page-login-{size}")
    assert_nothing_overflows(page, where=f"login at {size}px")
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Deployments')")

    for name, path in demo_pages().items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        screenshot(page, f"page-{name}-{size}")
        if name in FIRST_SCREENS:  # what a user sees before scrolling (README's pictures)
            screenshot(page, f"page-{name}-{size}-first-screen", full_page=False)
        assert_nothing_overflows(page, where=f"{name} at {size}px")
    context.close()
