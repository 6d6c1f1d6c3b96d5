"""Browser tests: Playwright drives Debian's Chromium against the live test server.

Playwright cannot download browsers here; it launches the system Chromium (.ci/run installs
it). Screenshots of every page go to test-results/screenshots/.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.teams.factories import UserFactory

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
# Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make
# between browser steps are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 900}, timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    blocked: list[str] = []  # the Content-Security-Policy must never have to step in
    page.on(
        "console",
        lambda message: (
            blocked.append(f"{page.url}: {message.text} ({message.location})")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not blocked, blocked


@pytest.fixture
def logged_in_page(page: Page, transactional_db) -> Page:
    UserFactory(username="oncall", password=PASSWORD)
    page.goto("/login/")
    page.fill("input[name=username]", "oncall")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Deployments')")
    return page


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# Walks the rendered page: every element and text node whose visible right edge passes its
# parent's. What an ancestor clips or scrolls (overflow-x other than visible: a cell's ellipsis,
# a code block that scrolls sideways on purpose) cannot be seen past that ancestor, so only what
# shows beyond it counts; fixed and absolutely positioned elements (tooltips) are left out.
_OVERFLOW_CHECK = """
() => {
  const offenders = [];
  const OPAQUE = new Set(["SELECT", "TEXTAREA", "svg", "IFRAME", "VIDEO", "CANVAS"]);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const path = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 4;) {
      parts.unshift(name(node));
      node = node.parentElement;
    }
    return parts.join(" > ");
  };
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    offenders.push(`the page scrolls sideways: ${root.scrollWidth}px in ${root.clientWidth}px`);
  const walk = (el, clipRight) => {
    // Children belong inside the content box; inside a parent that clips, its padding is
    // as far as anything can show.
    const box = el.getBoundingClientRect();
    const own = getComputedStyle(el);
    const limit = box.right - parseFloat(own.borderRightWidth) -
      (own.overflowX === "visible" ? parseFloat(own.paddingRight) : 0);
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        if (!node.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        const right = Math.min(range.getBoundingClientRect().right, clipRight);
        if (right > limit + 1)
          offenders.push(`text "${node.textContent.trim().slice(0, 40)}" in ${path(el)}: ` +
            `${Math.round(right)}px past ${Math.round(limit)}px`);
        continue;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const style = getComputedStyle(node);
      if (style.display === "none") continue;
      const rect = node.getBoundingClientRect();
      const placed = style.position === "fixed" || style.position === "absolute";
      const right = Math.min(rect.right, clipRight);
      if (!placed && rect.width > 0 && right > limit + 1)
        offenders.push(`${path(node)}: ${Math.round(right)}px past ${Math.round(limit)}px`);
      if (OPAQUE.has(node.tagName)) continue;  // drawn by the browser as one box
      const edge = rect.right - parseFloat(style.borderRightWidth);
      walk(node, style.overflowX === "visible" ? clipRight : Math.min(clipRight, edge));
    }
  };
  walk(document.body, Infinity);
  return offenders;
}
"""


def assert_nothing_overflows(page: Page, where: str = "") -> None:
    """No element or text on the page sticks out of its container to the right (nor does the
    page scroll sideways); `where` names the page and size in the failure."""
    offenders = page.evaluate(_OVERFLOW_CHECK)
    assert not offenders, f"Wider than the container ({where or page.url}):\n" + "\n".join(
        offenders[:20]
    )
