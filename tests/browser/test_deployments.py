"""The deployment-events view and the manual form in a real browser."""

import json
import re

from django.test import Client
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import DeploymentPipelineFactory


def test_filtering_updates_the_list_and_the_url(logged_in_page: Page):
    ChangeEventFactory(
        component="payments-service", summary="Deploy payments v1", environment="production"
    )
    ChangeEventFactory(component="search-api", summary="Deploy search v9", environment="staging")
    page = logged_in_page
    page.reload()
    expect(page.get_by_text("Deploy search v9")).to_be_visible()

    page.select_option("#id_kind", "deployment")
    page.fill("#id_environment", "production")
    page.press("#id_environment", "Tab")

    expect(page).to_have_url(re.compile(r"environment=production"))
    expect(page.get_by_text("Deploy search v9")).to_have_count(0)
    expect(page.get_by_text("Deploy payments v1")).to_be_visible()
    screenshot(page, "deployments-filtered")


def test_a_change_posted_to_the_api_appears_without_reload(logged_in_page: Page, live_server):
    DeploymentPipelineFactory(key="browser-key-0123456789")
    page = logged_in_page
    page.reload()
    marker = page.evaluate("() => { window.notReloaded = true; return true; }")

    api = Client()
    response = api.post(
        "/api/v1/changes",
        json.dumps({"component": "checkout-api", "description": "Deploy v7.7.7 (live)"}),
        content_type="application/json",
        headers={"Authorization": "Bearer browser-key-0123456789"},
    )
    assert response.status_code == 202

    expect(page.get_by_text("Deploy v7.7.7 (live)")).to_be_visible(timeout=15_000)
    assert marker and page.evaluate("() => window.notReloaded === true")
    screenshot(page, "deployments")


def test_a_rolling_out_row_turns_into_its_outcome_without_reload(logged_in_page: Page):
    DeploymentPipelineFactory(key="browser-key-0123456789", name="GitHub production")
    api = Client()

    def report(outcome: str) -> int:
        response = api.post(
            "/api/v1/changes",
            json.dumps(
                {
                    "component": "checkout-api",
                    "description": "Deploy v8.0.0",
                    "deployment_id": "run-8",
                    "outcome": outcome,
                }
            ),
            content_type="application/json",
            headers={"Authorization": "Bearer browser-key-0123456789"},
        )
        assert response.status_code == 202
        return response.json()["id"]

    change_id = report("started")
    page = logged_in_page
    page.reload()
    row = page.locator(f"#change-{change_id}")
    expect(row.locator(".badge")).to_have_text(re.compile(r"^rolling out · "))
    page.evaluate("() => { window.notReloaded = true; }")

    report("succeeded")

    expect(row.locator(".badge")).to_have_text(re.compile(r"^succeeded"), timeout=15_000)
    expect(page.locator(f"#change-{change_id}")).to_have_count(1)  # redrawn, not added
    assert page.evaluate("() => window.notReloaded === true")
    screenshot(page, "deployments-finished-live")


def test_manual_form_error_then_fix_then_listed(logged_in_page: Page):
    page = logged_in_page
    page.click("text=Record a change")
    expect(page.locator("h1")).to_have_text("Record a change")
    page.fill("#id_component", "payments-service")
    page.click("button:has-text('Record change')")

    expect(page.get_by_text("This field is required.")).to_be_visible()  # the summary
    screenshot(page, "manual-change-error")
    page.fill("#id_summary", "Raised the DB pool to 50 by hand")
    page.click("button:has-text('Record change')")

    expect(page.locator("h1")).to_have_text("Deployments")
    expect(page.locator("td.summary", has_text="Raised the DB pool to 50 by hand")).to_be_visible()
    expect(page.locator(".message.success")).to_contain_text("Recorded")
    screenshot(page, "deployments-after-manual-change")


def test_the_api_docs_run_under_the_content_security_policy(logged_in_page: Page):
    page = logged_in_page
    response = page.goto("/api/docs/")
    directives = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert directives["script-src"] == "'self'"  # no inline script, even here
    page.get_by_text("/api/v1/changes", exact=True).first.wait_for()  # Swagger UI drew the schema
