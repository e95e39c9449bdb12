"""The web pages in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def page(tmp_path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        if os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is not installed (make services installs it)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        yield context.new_page()
        browser.close()


def test_browse_search_and_open_a_model(hub, page):
    _, url = hub
    page.goto(url + "/")
    assert page.title() == "Models · weightwatch registry"
    assert page.locator("html").get_attribute("lang") == "en"
    badge = page.locator("tr", has_text="org/gated@1").locator(".badge")
    assert badge.inner_text() == "gated" and badge.is_visible()
    page.get_by_label("Search models").fill("base")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=base")
    assert page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="org/base@1").click()
    page.wait_for_url("**/models/org/base")
    assert page.get_by_role("heading", name="Decision", exact=True).is_visible()
    assert page.locator(".badge").first.inner_text() == "published"
    children = page.locator("tr", has_text="child")
    assert children.count() >= 1 and "org/gated@1" in children.first.inner_text()
    page.get_by_role("link", name="Transparency log").click()
    page.wait_for_url("**/log")
    assert "takedown" in page.locator("table").inner_text()
    # readable on a laptop screen: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
