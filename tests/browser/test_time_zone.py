"""The browser's time zone becomes the profile's at the first login, and the very first page is
in it: no cookie, no reload."""

import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from teams.models import Profile
from tests.browser.conftest import PASSWORD, screenshot
from tests.changes.factories import ChangeEventFactory
from tests.teams.factories import UserFactory


@pytest.fixture
def new_york_page(browser: Browser, live_server) -> Iterator[Page]:
    """conftest's page, in a browser that lives in New York."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1440, "height": 900},
        timezone_id="America/New_York",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not blocked, blocked


def test_the_first_login_shows_every_time_in_the_browsers_zone(
    new_york_page: Page, transactional_db
):
    user = UserFactory(username="newcomer", password=PASSWORD)
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=7)
    ChangeEventFactory(summary="Deploy payments v3", occurred_at=at)
    page = new_york_page

    page.goto("/login/")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('Deployments')")
    expect(page.locator(".zone-note")).to_have_text(re.compile(r"Times in America/New_York"))
    expect(page.locator(".zone-note")).to_have_count(1)
    row_time = page.locator("tr", has_text="Deploy payments v3").locator("time").first
    expect(row_time).to_have_attribute(
        "title", re.compile(r"\(America/New_York\) · \d\d:\d\d:\d\d UTC$")
    )
    local = at.astimezone(ZoneInfo("America/New_York"))
    expect(page.locator("tr", has_text="Deploy payments v3")).to_contain_text(f"{local:%H:%M}")
    assert Profile.objects.get(user=user).time_zone == "America/New_York"

    page.click("a.account-name")
    expect(page.locator("#id_time_zone")).to_have_value("America/New_York")
    screenshot(page, "profile-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    account = page.locator("form.account").bounding_box()
    assert account is not None and account["x"] + account["width"] <= 390  # the note fits
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "profile-390")
