"""Findings 6 and 7 in a real browser (Chromium): login CSRF from another origin,
security headers and framing; and stored XSS (held before) on a hostile model page."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.conftest import MODEL, PASSWORD, Site
from tests.services import chromium, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def evil(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another origin (another port on 127.0.0.1) serving the attacker's pages."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()


def test_every_page_carries_the_security_headers(site: Site) -> None:
    """Finding 7: `curl -I` on any page shows them."""
    for path in (
        "/",
        f"/models/{MODEL['public']}",
        "/login",
        "/log",
        "/static/style.css",
        "/api/v1/models",
        "/nowhere",
        f"/{MODEL['public']}/resolve/main/config.json",
    ):
        r = httpx.head(site.url + path)
        for h in HEADERS:
            assert h in r.headers, (path, h)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


def test_login_csrf_from_another_origin_is_refused(site: Site, browser, evil) -> None:  # type: ignore[no-untyped-def]
    """Finding 6: a page elsewhere that posts the attacker's credentials to /login does
    not sign the victim's browser in."""
    origin, folder = evil
    (folder / "csrf.html").write_text(
        f'<form id=f method=post action="{site.url}/login">'
        f'<input name=user value=owner><input name=password value="{PASSWORD}">'
        "<input name=next value=/></form><script>document.getElementById('f').submit()</script>"
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{origin}/csrf.html")
    page.wait_for_load_state("networkidle")
    assert not [c for c in context.cookies() if c["name"] == "ww_session"]
    assert "cross-origin request refused" in page.content()
    # the API's sign-in from a script on the other origin is refused as well
    (folder / "blank.html").write_text("<p>elsewhere</p>")
    page.goto(f"{origin}/blank.html")
    status = page.evaluate(
        """async (url) => { try { const r = await fetch(url + '/api/v1/login', {method: 'POST',
        credentials: 'include', headers: {'Content-Type': 'text/plain'},
        body: JSON.stringify({user: 'owner', password: 'PASSWORD'})}); return r.status }
        catch (e) { return 'blocked' } }""".replace("PASSWORD", PASSWORD),
        site.url,
    )
    assert status in (403, "blocked")
    assert not [c for c in context.cookies() if c["name"] == "ww_session"]
    context.close()


def test_framing_by_another_origin_is_refused(site: Site, browser, evil) -> None:  # type: ignore[no-untyped-def]
    """Finding 7: staff forms cannot be framed (clickjacking)."""
    origin, folder = evil
    (folder / "frame.html").write_text(
        f'<iframe id=x src="{site.url}/models/{MODEL["public"]}" width=800 height=600></iframe>'
    )
    page = browser.new_page()
    page.goto(f"{origin}/frame.html")
    page.wait_for_load_state("networkidle")
    frames = [f for f in page.frames if f != page.main_frame]
    assert frames
    for f in frames:
        try:
            text = f.content()
        except Exception:  # a refused frame may have no document at all
            text = ""
        assert "Decision" not in text and MODEL["public"] not in text


def test_stored_xss_in_cards_and_gate_labels_never_runs(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    """Held before: the hostile card, prompt and labels show as text; nothing runs."""
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{site.url}/models/{MODEL['hostile']}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.pwned") is None and not dialogs
    assert "<script>" in page.inner_text("body")  # shown, escaped
    assert page.locator("a[href^='javascript:']").count() == 0
