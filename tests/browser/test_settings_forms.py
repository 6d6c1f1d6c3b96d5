"""Settings forms in the browser: the alert-source form keeps to the chosen kind's settings, a
component's dependencies are picked from a filterable checklist, and the audit log reads as
words. At 1440 by 900, with screenshots."""

from playwright.sync_api import Page, expect

from pipelines.models import AlertSource
from teams.models import Component
from tests.browser.conftest import screenshot
from tests.browser.test_incident_and_settings import log_in_as_admin_of
from tests.teams.factories import ComponentFactory, TeamFactory

DESKTOP = {"width": 1440, "height": 900}


def test_switching_an_alert_source_from_cloudwatch_to_alertmanager_drops_cloudwatchs_options(
    page: Page, transactional_db
):
    page.set_viewport_size(DESKTOP)
    team = TeamFactory(slug="payments", name="Payments")
    log_in_as_admin_of(page, team)
    page.goto("/settings/alert-sources/new")

    page.fill("#id_name", "prometheus-prod")
    page.select_option("#id_team", label="Payments")
    page.select_option("#id_kind", "cloudwatch_sns")
    expect(page.locator("#kind-fields")).to_contain_text("CloudWatch alarms through an SNS topic")
    expect(page.locator("#id_insufficient_data")).to_be_visible()
    expect(page.locator("#id_auto_confirm_subscriptions")).to_be_visible()
    page.fill("#id_window_minutes", "45")

    page.select_option("#id_kind", "alertmanager")

    expect(page.locator("#kind-fields")).to_contain_text("Alertmanager webhook receiver")
    expect(page.locator("#id_insufficient_data")).to_have_count(0)
    expect(page.locator("#id_auto_confirm_subscriptions")).to_have_count(0)
    expect(page.locator("#id_timestamp_tolerance_seconds")).to_have_count(0)
    expect(page.locator("#id_window_minutes")).to_have_value("45")  # kept
    expect(page.locator("#kind-fields")).not_to_contain_text("signing secret")
    screenshot(page, "alert-source-form-1440")
    page.click("button:has-text('Create alert source')")

    expect(page.locator("#shown-key")).to_be_visible()
    expect(page.locator("#shown-secret")).to_have_count(0)  # Alertmanager signs nothing
    expect(page.get_by_role("button", name="Rotate signing secret")).to_have_count(0)
    source = AlertSource.objects.get(name="prometheus-prod")
    assert (source.kind, source.window_minutes, source.insufficient_data) == (
        "alertmanager",
        45,
        "ignore",
    )


def test_a_dependency_is_found_by_filtering_the_checklist_and_saved(page: Page, transactional_db):
    page.set_viewport_size(DESKTOP)
    team = TeamFactory(slug="payments", name="Payments")
    for name in ("auth-service", "cache", "postgres-main", "postgres-replica", "queue"):
        ComponentFactory(name=name, owner_team=team)
    checkout = ComponentFactory(name="checkout", owner_team=team)
    log_in_as_admin_of(page, team)
    page.goto(f"/settings/components/{checkout.slug}/edit")

    filter_box = page.get_by_role("searchbox", name="Filter the list")
    expect(filter_box).to_be_visible()
    filter_box.fill("postgres")

    options = page.locator(".checklist-options li")
    expect(options.filter(has_text="cache")).to_be_hidden()
    expect(options.filter(has_text="queue")).to_be_hidden()
    expect(options.filter(has_text="postgres-replica")).to_be_visible()
    page.get_by_label("postgres-main").check()
    filter_box.fill("nothing-like-this")
    expect(page.get_by_text("Nothing matches.")).to_be_visible()
    filter_box.fill("")
    expect(options.filter(has_text="cache")).to_be_visible()
    screenshot(page, "component-form-1440")
    page.click("button:has-text('Save')")

    expect(page.locator(".message.success")).to_contain_text("Saved checkout")
    row = page.locator("tr", has_text="checkout")
    expect(row).to_contain_text("postgres-main")
    assert list(
        Component.objects.get(name="checkout").depends_on.values_list("name", flat=True)
    ) == ["postgres-main"]

    page.goto("/settings/audit/")
    expect(page.locator("td.audit-details").first).to_contain_text("Depends on: — → postgres-main")
    expect(page.locator("td.audit-details").first).not_to_contain_text("[")
    screenshot(page, "audit-log-1440")

    # The first Tab lands on the skip link, shown while focused; Enter moves to the content.
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    expect(skip).not_to_be_in_viewport()
