"""The deployment-events view and the manual form in a real browser."""

import json
import re
from datetime import timedelta

from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from changes.models import ChangeEvent
from incidents.models import Incident
from tests.browser.conftest import assert_nothing_overflows, screenshot
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


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


# --- Layout at 1440 x 900 and 390 x 844 ---------------------------------------------------------


def busy_day(count: int = 30) -> list[ChangeEvent]:
    """Changes of the last half hour, some with what makes rows wide: long names, long
    descriptions, several links, a commit, other pipelines' reports."""
    team = TeamFactory(name="Payments and billing platform")
    pipeline = DeploymentPipelineFactory(name="payments-codepipeline-production-eu", team=team)
    other = DeploymentPipelineFactory(name="deploy-script-with-a-long-name")
    now = timezone.now()
    changes = [
        ChangeEventFactory(
            pipeline=pipeline,
            occurred_at=now - timedelta(minutes=i),
            component="notifications-worker-with-a-very-long-name" if i % 3 else "payments-db",
            version=f"v{i}.0.0-rc.1+build.{i}2345678" if i % 2 else f"v{i}.1",
            environment="production-eu-west-1" if i % 4 else "staging",
            kind=("deployment", "infrastructure", "feature_flag", "rollback")[i % 4],
            outcome=("succeeded", "failed", "started")[i % 3],
            triggered_by="someone.with.a.long.handle@example.com",
            summary=f"Change {i}: " + "a summary that goes on " * 8,
            description="Retry card authorisations on gateway timeouts, " * 10 + "\nSecond",
            links=[
                {"href": f"https://ci.example.com/run/{i}", "text": "CI run with a long name"},
                {"href": "https://github.com/org/repo/pull/812", "text": "PR #812"},
            ],
            commit="9e41c07b3d9e41c07b3d",
        )
        for i in range(count)
    ]
    for change in changes[::5]:
        ChangeEventFactory(same_as=change, pipeline=other, occurred_at=change.occurred_at)
    return changes


def rows_in_view(page: Page) -> int:
    """Change rows wholly inside the first screen."""
    return page.evaluate(
        """() => [...document.querySelectorAll("#change-rows tr.change")].filter((row) => {
          const box = row.getBoundingClientRect();
          return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
        }).length"""
    )


def test_at_1440_one_line_per_change_nothing_overflows_and_15_rows_show(logged_in_page: Page):
    busy_day()
    IncidentFactory(title="HighErrorRate on payments-service: 5xx above 2% for 5 minutes")
    cache.clear()  # the chart of the visit after logging in (none yet) is kept for a minute
    page = logged_in_page
    page.set_viewport_size(DESKTOP)
    page.reload()

    expect(page.locator("#change-filters")).to_be_visible()  # the filters open, on one row
    expect(page.locator("#open-incidents-banner")).to_be_visible()
    assert_nothing_overflows(page, where="deployments at 1440px")
    heights = page.evaluate(
        "() => [...document.querySelectorAll('#change-rows tr.change')].map((row) => "
        "row.getBoundingClientRect().height)"
    )
    assert max(heights) < 40, heights  # one line each
    assert rows_in_view(page) >= 15
    one_row = page.evaluate(
        """() => {
          const boxes = [...document.querySelectorAll("#change-filters label")]
            .map((label) => label.getBoundingClientRect());
          return Math.max(...boxes.map((box) => box.top)) < Math.min(...boxes.map((b) => b.bottom));
        }"""
    )
    assert one_row, "the filters take more than one row"
    description = page.locator("td.summary").first
    assert description.get_attribute("title").endswith("gateway timeouts, \nSecond")
    screenshot(page, "deployments-1440")


def test_on_a_phone_changes_show_first_and_the_filters_fold(logged_in_page: Page):
    busy_day(8)
    IncidentFactory(title="HighErrorRate on payments-service")
    page = logged_in_page
    page.set_viewport_size(PHONE)
    page.goto("/?environment=staging&kind=deployment")

    toggle = page.locator("[data-toggle-filters]")
    expect(toggle).to_have_text("Filters (2)")
    expect(page.locator("#change-filters")).to_be_hidden()
    first = page.locator("#change-rows tr.change").first
    box = first.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert_nothing_overflows(page, where="deployments at 390px")
    screenshot(page, "deployments-390")

    toggle.click()
    expect(page.locator("#change-filters")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert_nothing_overflows(page, where="deployments at 390px, filters open")
    page.select_option("#id_status", "failed")
    expect(page).to_have_url(re.compile(r"status=failed"))  # their state is in the URL
    expect(toggle).to_have_text("Filters (3)")
    screenshot(page, "deployments-390-filters")


def test_the_component_page_fits_both_sizes(logged_in_page: Page):
    component = ComponentFactory(name="payments-service")
    for change in busy_day(10):
        ChangeEvent.objects.filter(pk=change.pk).update(resolved_component=component)
    page = logged_in_page
    for size, viewport in (("1440", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/incidents/components/{component.slug}/")
        expect(page.locator("h1")).to_have_text("payments-service")
        assert_nothing_overflows(page, where=f"component at {size}px")
        screenshot(page, f"component-{size}")


# --- Live: rows under their day, the chart's total, the open-incident banner ---------------------


def post_change(description: str) -> int:
    response = Client().post(
        "/api/v1/changes",
        json.dumps({"component": "checkout-api", "description": description}),
        content_type="application/json",
        headers={"Authorization": "Bearer browser-key-0123456789"},
    )
    assert response.status_code == 202
    return response.json()["id"]


def day_rows(page: Page) -> list[str]:
    """The table's rows in order: a day header as its text, a change as its id."""
    return page.evaluate(
        """() => [...document.querySelectorAll("#change-rows tr.day, #change-rows tr.change")]
          .map((row) => row.classList.contains("day") ? "day " + row.textContent.trim() : row.id)"""
    )


def test_a_live_row_lands_under_todays_header_and_the_chart_counts_it(logged_in_page: Page):
    DeploymentPipelineFactory(key="browser-key-0123456789")
    shown = ChangeEventFactory(occurred_at=timezone.now() - timedelta(minutes=2))
    cache.clear()  # the chart of the visit after logging in (none yet) is kept for a minute
    page = logged_in_page
    page.set_viewport_size(DESKTOP)
    page.reload()
    total = page.locator("#chart .chart-total strong").first
    expect(total).to_have_text("1")
    assert day_rows(page) == ["day Today", f"change-{shown.pk}"]

    new = post_change("Deploy v7.7.8 (live)")

    expect(page.locator(f"#change-{new}")).to_be_visible(timeout=15_000)
    assert day_rows(page) == ["day Today", f"change-{new}", f"change-{shown.pk}"]
    expect(total).to_have_text("2", timeout=15_000)  # the chart's total moved with the rows
    screenshot(page, "deployments-live-row")


def test_a_live_row_of_a_new_day_gets_its_own_today_header_first(logged_in_page: Page):
    DeploymentPipelineFactory(key="browser-key-0123456789")
    old = ChangeEventFactory(occurred_at=timezone.now() - timedelta(days=2))
    page = logged_in_page
    page.reload()
    expect(page.locator(f"#change-{old.pk}")).to_be_visible()
    older_day = day_rows(page)[0]
    assert older_day != "day Today"

    new = post_change("First change of the day")

    expect(page.locator(f"#change-{new}")).to_be_visible(timeout=15_000)
    assert day_rows(page) == ["day Today", f"change-{new}", older_day, f"change-{old.pk}"]


def test_the_open_incident_banner_comes_and_goes_live(logged_in_page: Page):
    page = logged_in_page
    banner = page.locator("#open-incidents-banner")
    expect(banner).to_be_hidden()

    incident = IncidentFactory(title="Checkout 5xx above 2%")

    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("1 open incident")
    expect(banner.get_by_role("link", name="Checkout 5xx above 2%")).to_have_attribute(
        "href", f"/incidents/{incident.pk}/"
    )
    IncidentFactory(title="Payments latency", started_at=timezone.now() + timedelta(seconds=1))
    expect(banner).to_contain_text("2 open incidents", timeout=15_000)
    expect(banner.get_by_role("link", name="See all 2")).to_have_attribute("href", "/incidents/")

    Incident.objects.update(status="resolved")
    expect(banner).to_be_hidden(timeout=15_000)
