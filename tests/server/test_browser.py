"""The web pages in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import chromium

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(tmp_path):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        yield context.new_page()


def test_browse_search_and_open_a_model(hub, page):
    _, url = hub
    page.goto(url + "/")
    assert page.title() == "Models · weightwatch registry"
    assert page.locator("html").get_attribute("lang") == "en"
    badge = page.locator("tr", has_text="org/gated@1").locator(".badge")
    assert badge.inner_text() == "gated" and badge.is_visible()
    page.get_by_label("Search models").fill("base")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=base&**")  # the empty filters ride along
    assert page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="org/base@1").click()
    page.wait_for_url("**/models/org/base")
    assert page.get_by_role("heading", name="Decision", exact=True).is_visible()
    assert page.locator(".badge").first.inner_text() == "published"
    children = page.locator("section[aria-labelledby=lineage] tbody tr", has_text="org/gated@1")
    assert children.count() >= 1 and "org/base@1" in children.first.inner_text()
    page.get_by_role("link", name="Transparency log").click()
    page.wait_for_url("**/log")
    assert "takedown" in page.locator("table").inner_text()
    # readable on a laptop screen: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


# -- the scenario: upload, lineage, gated access, takedown --------------------------
PASSWORD = "correct horse battery"
CHAT_CARD = """---
license: apache-2.0
base_model: acme/base
base_model_relation: finetune
extra_gated_prompt: You agree to use this model for research only.
extra_gated_fields:
  Full name: text
  Country: country
  Intended use:
    type: select
    options: [Research, Education]
  I agree to the acceptable use policy: checkbox
---

# acme/chat

A gated fine-tune of acme/base.
"""


def _shots() -> Path:
    out = Path(os.environ.get("WEIGHTWATCH_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def site(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    """A running server over a registry with accounts, a public base and a gated chat
    model declaring that base; yields (registry, url)."""
    import shutil

    from tests.services import serving
    from weightwatch.registry import Registry
    from weightwatch.registry.accounts import create_user, set_namespace_owner
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    store = reg.store
    create_user(store, "rita", PASSWORD, role="reviewer")
    create_user(store, "pat", PASSWORD, role="publisher", orgs=("acme",))
    create_user(store, "alice", PASSWORD, country="US")
    set_namespace_owner(store, "acme", "acme")
    reg.register(llama_family.base, "acme/base")
    chat = tmp_path / "chat"
    shutil.copytree(llama_family.lora_merged, chat)
    (chat / "README.md").write_text(CHAT_CARD)
    reg.register(chat, "acme/chat", access="gated")
    with serving(create_app(tmp_path / "reg")) as url:
        yield reg, url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _sign_in(browser, url: str, user: str):  # type: ignore[no-untyped-def]
    """A page in a fresh context (its own cookies) signed in as ``user``."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.set_default_timeout(20_000)
    page.goto(url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    assert page.locator(".who").inner_text().startswith(user)
    return page


def test_upload_lineage_access_and_takedown(site, browser, llama_family):  # type: ignore[no-untyped-def]
    reg, url = site
    shots = _shots()

    # a publisher uploads a model folder and watches the pipeline finish
    pat = _sign_in(browser, url, "pat")
    pat.get_by_role("link", name="Upload").click()
    pat.wait_for_url("**/upload")
    pat.get_by_label("Model name (namespace/name)").fill("acme/tuned")
    pat.get_by_label("Access tier").select_option("public")
    pat.get_by_label("A model folder").set_input_files(str(llama_family.finetune))
    pat.get_by_role("button", name="Upload and register").click()
    result = pat.locator("#upload-result")
    result.wait_for(state="visible", timeout=45_000)
    assert "acme/tuned@1" in result.inner_text()
    assert pat.locator("#steps li.done").count() == 6
    assert (
        pat.locator("#total-text").inner_text().split(" of ")[0]
        == pat.locator("#total-text").inner_text().split(" of ")[1]
    )
    pat.screenshot(path=str(shots / "upload-done.png"), full_page=True)

    # the derivative is linked to its base in the lineage picture
    result.get_by_role("link", name="acme/tuned@1").click()
    pat.wait_for_url("**/models/acme/tuned?v=1")
    svg = pat.locator("svg.lineage")
    base_node = svg.locator('a[href="/models/acme/base?v=1"]')
    assert base_node.count() == 1 and "published" in (base_node.text_content() or "")
    assert svg.locator(".edge.detected").count() >= 1
    assert (svg.locator(".node.current").text_content() or "").startswith("acme/tuned@1")
    pat.screenshot(path=str(shots / "model-page-lineage.png"), full_page=False)
    assert pat.evaluate("document.documentElement.scrollWidth") <= 1366

    # a user asks for access to the gated model
    alice = _sign_in(browser, url, "alice")
    alice.goto(url + "/models/acme/chat")
    alice.get_by_label("Full name").fill("Alice Example")
    alice.get_by_label("Country").select_option("US")
    alice.get_by_label("Intended use").select_option("Research")
    alice.get_by_label("I agree to the acceptable use policy").check()
    alice.get_by_role("button", name="Request access").click()
    alice.wait_for_url("**/models/acme/chat#access")
    assert alice.locator("section[aria-labelledby=access] .badge").inner_text() == "pending"

    # a reviewer approves it; the user then sees "accepted" and the download links
    rita = _sign_in(browser, url, "rita")
    rita.get_by_role("link", name="Review").click()
    rita.get_by_role("link", name="Access requests").click()
    row = rita.locator("tr", has_text="alice")
    assert "Alice Example" in row.inner_text()
    rita.screenshot(path=str(shots / "review-requests.png"), full_page=True)
    row.get_by_role("button", name="Accept alice for acme/chat").click()
    rita.wait_for_url("**/review/requests")
    assert "No pending requests" in rita.locator("main").inner_text()
    alice.reload()
    assert alice.locator("section[aria-labelledby=access] .badge").inner_text() == "accepted"
    assert alice.locator('a[href="/acme/chat/resolve/v1/model.safetensors"]').count() == 1

    # the reviewer takes the base down; its children are shown quarantined
    rita.goto(url + "/models/acme/base")
    rita.get_by_label("Reason for takedown").fill("licence breach reported")
    rita.get_by_role("button", name="Take down").click()
    rita.wait_for_url("**/models/acme/base?v=1")
    assert rita.locator("h1 .badge").inner_text() == "taken down"
    kids = rita.locator("svg.lineage .node.status-quarantined")
    assert kids.count() == 2
    assert {kids.nth(i).locator("text.status").text_content() for i in range(2)} == {"quarantined"}
    rita.screenshot(path=str(shots / "takedown-lineage.png"), full_page=False)
    rita.goto(url + "/review/quarantine")
    assert rita.locator("tr", has_text="acme/tuned@1").count() == 1
    assert "licence breach reported" in rita.locator("tr", has_text="taken down").inner_text()
    rita.screenshot(path=str(shots / "review-quarantine.png"), full_page=True)
    assert reg.status("acme/chat").status == "quarantined"

    # the models list and the log, as a visitor sees them
    visitor = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    visitor.goto(url + "/")
    assert "acme/tuned" not in visitor.locator("main").inner_text()  # quarantined: hidden
    assert (
        visitor.locator("tr", has_text="acme/base@1").locator(".badge").inner_text() == "taken down"
    )
    rita.goto(url + "/")
    rita.screenshot(path=str(shots / "models-list.png"), full_page=True)
    rita.get_by_role("link", name="Transparency log").click()
    assert "takedown" in rita.locator("table").inner_text()
    rita.screenshot(path=str(shots / "log.png"), full_page=False)
    rita.locator("table a").first.click()
    assert "the proof verifies" in rita.locator("#verified").inner_text()
