"""Every page in Chromium at a laptop's and a phone's size: screenshots of each, no
horizontal overflow, no console errors, no failed requests; and the upload page's own
checks (its name pattern compiles, a failure shows an error box)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests import services
from tests.server.test_browser import PASSWORD, _shots
from tests.server.test_ui import seed_users
from tests.services import serving

pytestmark = pytest.mark.slow

SIZES = {"laptop": (1366, 768), "phone": (390, 844)}
CARD = """---
license: apache-2.0
base_model: org/base
base_model_relation: finetune
tags: [demo]
---

# A tuned model with a long card

| column with a long heading | another rather long heading | and a third |
|---|---|---|
| value | value | value |

```
a very long line of code that would push the page sideways on a phone if it were not scrolled
```
"""


@pytest.fixture
def site(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    from weightwatch.registry import Registry
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    seed_users(reg)
    reg.register(llama_family.base, "org/base")
    tuned = shutil.copytree(llama_family.finetune, tmp_path / "tuned")
    (tuned / "README.md").write_text(CARD)
    reg.register(tuned, "org/tuned")
    reg.register(llama_family.int8, "org/a-rather-long-model-name-int8", access="gated")
    reg.register(llama_family.independent, "org/down")
    reg.takedown("org/down@1", reason="a test takedown with a reason")
    with serving(create_app(tmp_path / "reg")) as url:
        yield reg, url


@pytest.fixture
def chromium():  # type: ignore[no-untyped-def]
    with services.chromium() as b:
        yield b


class Watched:
    """A page whose console errors and failed requests are collected."""

    def __init__(self, browser: Any, size: tuple[int, int]) -> None:
        self.page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
        self.page.set_default_timeout(20_000)
        self.width = size[0]
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # a request the browser itself cancels when the test navigates on (the favicon,
        # fetched after "load") is no failure of the page; every other one is
        self.page.on(
            "requestfailed",
            lambda r: (
                None
                if "ERR_ABORTED" in (r.failure or "")
                else self.problems.append(f"failed: {r.url} ({r.failure})")
            ),
        )
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )

    def sign_in(self, url: str, user: str) -> None:
        self.page.goto(f"{url}/login")
        self.page.get_by_label("User name").fill(user)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(url + "/")

    def check(self, url: str, path: str, shot: str) -> None:
        self.page.goto(url + path)
        self.page.wait_for_load_state("load")
        self.page.screenshot(path=str(_shots() / shot), full_page=True)
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        culprits = self.page.evaluate(
            """w => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1)
                .slice(0, 5).map(e => e.tagName + '.' + e.className + ': '
                + (e.textContent || '').slice(0, 40))""",
            self.width,
        )
        assert wide <= self.width, f"{path} is {wide}px wide at {self.width}px: {culprits}"
        assert self.problems == [], (path, self.problems)


PAGES = [
    ("/", "list"),
    ("/?status=published&access=public", "list-filtered"),
    ("/models/org/base", "base"),
    ("/models/org/tuned", "tuned"),
    ("/models/org/a-rather-long-model-name-int8", "gated"),
    ("/models/org/down", "down"),
    ("/log", "log"),
    ("/log/1", "log-entry"),
    ("/login", "login"),
]


@pytest.mark.parametrize("size", SIZES)
def test_pages_fit_without_errors(site, chromium, size):  # type: ignore[no-untyped-def]
    _, url = site
    visitor = Watched(chromium, SIZES[size])
    for path, name in PAGES:
        visitor.check(url, path, f"{size}-{name}.png")
    admin = Watched(chromium, SIZES[size])
    admin.sign_in(url, "admin")
    for path, name in [("/models/org/down", "down-admin"), ("/models/org/base", "base-admin"),
                       ("/upload", "upload"), ("/review", "review"), ("/account", "account"),
                       ("/review/quarantine", "quarantine"), ("/review/requests", "requests")]:  # fmt: skip
        admin.check(url, path, f"{size}-{name}.png")


def test_upload_checks_the_name_and_shows_failures_in_an_error_box(site, chromium):  # type: ignore[no-untyped-def]
    _, url = site
    pat = Watched(chromium, SIZES["phone"])
    pat.sign_in(url, "pat")
    pat.check(url, "/upload", "phone-upload.png")  # no console error: the pattern compiles
    name = pat.page.get_by_label("Model name (namespace/name)")
    name.fill("not a name")
    assert pat.page.evaluate("document.getElementById('model').validity.patternMismatch")
    name.fill("org/fine-name.v2")
    assert pat.page.evaluate("document.getElementById('model').checkValidity()")
    # a namespace pat may not publish to: the API refuses, the page shows an error box
    name.fill("someone-else/model")
    pat.page.get_by_label("…or individual files").set_input_files(
        files=[{"name": "config.json", "mimeType": "application/json", "buffer": b"{}"}]
    )
    pat.problems.clear()
    pat.page.get_by_role("button", name="Upload and register").click()
    box = pat.page.locator("#upload-status.alert[role=alert]")
    box.wait_for(state="visible")
    assert box.inner_text().startswith("Upload failed:")
    pat.page.screenshot(path=str(_shots() / "phone-upload-failed.png"), full_page=True)
