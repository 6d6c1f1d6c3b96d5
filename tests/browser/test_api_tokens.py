"""The profile's API tokens in a browser: created and shown once with a copy button, revoked
after a confirmation (a dismissed one keeps the token), with no inline script for the CSP."""

from playwright.sync_api import Page, expect

from teams.models import ApiToken
from tests.browser.conftest import assert_nothing_overflows, screenshot


def test_a_token_is_made_copied_and_revoked_after_a_confirmation(logged_in_page: Page):
    page = logged_in_page
    page.goto("/profile/")
    page.fill("#id_token-name", "deploy script")
    page.select_option("#id_token-scope", "write")
    page.select_option("#id_token-expires", "30")
    page.click("button:has-text('Create token')")

    expect(page.locator("tr.api-token")).to_contain_text("deploy script")
    prefix = ApiToken.objects.get().token_prefix
    assert page.locator("#shown-token").input_value().startswith(prefix)
    expect(page.locator("button[data-copy-target='#shown-token']")).to_be_visible()
    screenshot(page, "profile-api-tokens-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_nothing_overflows(page, where="profile with tokens at 390px")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("tr.api-token button:has-text('Revoke')")
    expect(page.locator("tr.api-token")).to_have_count(1)
    assert ApiToken.objects.exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr.api-token button:has-text('Revoke')")
    expect(page.locator("body")).to_contain_text("Revoked the token deploy script.")
    expect(page.locator("tr.api-token")).to_have_count(0)
    assert not ApiToken.objects.exists()
