"""Settings' "Send test event" in a real browser: in the pipeline's deliveries, not the feed."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_incident_and_settings import log_in_as_admin_of
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import TeamFactory


def test_a_test_event_shows_in_the_deliveries_and_not_in_the_deployments(
    page: Page, transactional_db
):
    team = TeamFactory(slug="payments", name="Payments")
    pipeline = DeploymentPipelineFactory(team=team, name="payments-github")
    ChangeEventFactory(pipeline=pipeline, summary="Deploy payments v2")
    log_in_as_admin_of(page, team)
    page.wait_for_selector("h1:has-text('Deployments')")

    page.goto(f"/settings/pipelines/{pipeline.pk}/")
    expect(page.locator("#deliveries")).to_contain_text("Nothing received yet")
    page.get_by_role("button", name="Send test event").click()

    expect(page.locator(".messages")).to_contain_text("see it under Recent deliveries below")
    row = page.locator("#deliveries tr.delivery")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("test event: would record")
    expect(row).to_contain_text("not added to the deployments feed")
    screenshot(page, "settings-pipeline-test-event")

    page.goto("/")
    expect(page.get_by_text("Deploy payments v2")).to_be_visible()
    expect(page.get_by_text("Test event sent from Settings")).to_have_count(0)
    expect(page.get_by_text("whatchanged-test")).to_have_count(0)
