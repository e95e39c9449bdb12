"""The server-rendered pages over HTTP: who sees what, escaping, CSRF, sign-in, the gate
form, moderation, the log browser and the watermark form (the browser tests drive the
same pages in Chromium)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from weightwatch.registry import Registry
from weightwatch.registry.accounts import create_user, events, set_namespace_owner

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert('card')</script>"
GATED_CARD = f"""---
license: apache-2.0
extra_gated_prompt: "Agree to the terms <img src=x onerror=alert(1)>"
extra_gated_fields:
  Full name: text
  Country: country
  Intended use:
    type: select
    options: [Research, Other]
  I agree: checkbox
---

# A card with markup in it

{HOSTILE}
"""


def seed_users(reg: Registry) -> None:
    """admin, rita (reviewer), pat (publisher in org "org"), alice (user, NL), bob."""
    store = reg.store
    create_user(store, "admin", PASSWORD, role="admin")
    create_user(store, "rita", PASSWORD, role="reviewer")
    create_user(store, "pat", PASSWORD, role="publisher", orgs=("org",))
    create_user(store, "alice", PASSWORD, country="NL")
    create_user(store, "bob", PASSWORD, role="user", orgs=("partners",))
    set_namespace_owner(store, "org", "org")


def with_card(src: Path, dest: Path, card: str) -> Path:
    shutil.copytree(src, dest)
    (dest / "README.md").write_text(card)
    return dest


def signed_in(url: str, user: str) -> tuple[httpx.Client, str]:
    """A client holding ``user``'s session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=url)
    r = client.post("/login", data={"user": user, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    return client, csrf_of(client.get("/").text)


def csrf_of(page: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert m, "signed-in pages carry the CSRF token"
    return m.group(1)


def test_model_list_page_and_search(hub):
    _, url = hub
    page = httpx.get(f"{url}/").text
    assert "org/base@1" in page and 'class="badge published"' in page
    assert 'class="badge gated"' in page and 'class="tier tier-gated"' in page  # org/gated
    assert "taken down" in page  # org/down is listed with its status
    assert '<label for="q">' in page  # the search box is labelled
    found = httpx.get(f"{url}/", params={"q": "gated"}).text
    assert 'href="/models/org/gated"' in found and 'href="/models/org/base"' not in found
    hostile = httpx.get(f"{url}/", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)</script>" not in hostile and "&lt;script&gt;" in hostile


def test_model_list_pages_and_literal_search(hub):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from weightwatch.server import ui

    reg, url = hub
    app = FastAPI()
    app.include_router(ui.router(reg, page_size=2))  # three models: org/base, org/down, org/gated
    with TestClient(app) as client:
        first = client.get("/").text
        assert "3 models · page 1 of 2" in first
        assert first.count('<td><a href="/models/') == 2 and 'rel="next"' in first
        second = client.get("/", params={"p": 2}).text
        assert second.count('<td><a href="/models/') == 1 and 'href="/models/org/gated"' in second
        assert 'rel="prev"' in second and 'rel="next"' not in second
        for wildcard in ("%", "_", "org_base"):  # LIKE wildcards are matched literally
            assert "No models match." in client.get("/", params={"q": wildcard}).text
        assert 'href="/models/org/base"' in client.get("/", params={"q": "ORG/BA"}).text

    assert httpx.get(f"{url}/log", params={"page": 5}).status_code == 404  # past the end


def test_watermark_form(hub, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from weightwatch.server import ui
    from weightwatch.watermark import MasterSecret
    from weightwatch.watermark.deployments import WatermarkDeployment

    reg, url = hub
    seed_users(reg)
    alice, _ = signed_in(url, "alice")
    assert "no watermark master secret configured" in alice.get("/watermark").text
    master = MasterSecret.generate()
    master.save(tmp_path / "master.json")
    dep = WatermarkDeployment.create(master, "chat", scheme="kgw", gamma=0.25, delta=4.0)
    reg.add_watermark("org/base", dep)
    app = FastAPI()
    app.include_router(ui.router(reg, watermark_master=tmp_path / "master.json"))
    with TestClient(app) as client:
        client.post("/login", data={"user": "alice", "password": PASSWORD})
        csrf = csrf_of(client.get("/watermark").text)
        tokens = " ".join(str((i * 7919) % 1000) for i in range(200))
        r = client.post(
            "/watermark", data={"csrf": csrf, "key_ids": dep.key_id, "token_ids": tokens}
        )
        assert r.status_code == 200 and "p-value" in r.text and "org/base@1" in r.text
        bad = client.post(
            "/watermark", data={"csrf": csrf, "key_ids": dep.key_id, "token_ids": "1 x"}
        )
        assert bad.status_code == 400 and "whole numbers" in bad.text
        missing = client.post(
            "/watermark", data={"csrf": csrf, "key_ids": "0" * 16, "token_ids": "1"}
        )
        assert missing.status_code == 404


def test_release_from_quarantine_pages(hub):
    reg, url = hub
    seed_users(reg)
    reg.takedown("org/base@1", reason="leak")
    assert reg.status("org/gated").status == "quarantined"
    rita, csrf = signed_in(url, "rita")
    queue = rita.get("/review/quarantine").text
    assert 'action="/models/org/gated/release"' in queue and "Reason for releasing" in queue
    model = rita.get("/models/org/gated").text
    assert 'action="/models/org/gated/release"' in model
    assert '<label for="release-reason">Reason for releasing</label>' in model
    assert 'id="release-reason" name="reason" required' in model
    assert 'action="/models/org/base/release"' not in rita.get("/models/org/base").text
    pat, pat_csrf = signed_in(url, "pat")  # a publisher, even of this namespace
    r = pat.post("/models/org/gated/release", data={"csrf": pat_csrf, "reason": "x", "v": "1"})
    assert r.status_code == 403 and reg.status("org/gated").status == "quarantined"
    r = rita.post("/models/org/gated/release", data={"csrf": "", "reason": "x", "v": "1"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = rita.post("/models/org/gated/release", data={"csrf": csrf, "reason": " ", "v": "1"})
    assert r.status_code == 400 and "reason" in r.text
    r = rita.post(
        "/models/org/gated/release",
        data={"csrf": csrf, "reason": "independent of the base", "v": "1", "back": "/review"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/review"
    v = reg.status("org/gated")
    assert v.status == "gated" and v.decision.cause == "release by rita"
    page = rita.get("/models/org/gated").text
    assert "released by rita: independent of the base" in page
    assert 'action="/models/org/gated/release"' not in page  # nothing left to release
    assert "org/gated@1" not in rita.get("/review/quarantine").text.split('id="down"')[0]
    assert any(e.action == "model.release" and e.actor == "rita" for e in events(reg.store))
    r = rita.post("/models/org/gated/release", data={"csrf": csrf, "reason": "again", "v": "1"})
    assert r.status_code == 400 and "not quarantined" in r.text


def test_throttled_sign_in_page(hub):
    from weightwatch.registry.accounts import MAX_FAILURES

    reg, url = hub
    seed_users(reg)
    for _ in range(MAX_FAILURES):
        bad = httpx.post(f"{url}/login", data={"user": "bob", "password": "not-his-password"})
        assert bad.status_code == 401
    r = httpx.post(f"{url}/login", data={"user": "bob", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["retry-after"] == "900"
    assert "Too many failed sign-ins" in r.text and "Try again in 15 minutes" in r.text
    assert 'role="alert"' in r.text and "set-cookie" not in r.headers
    failed = [e for e in events(reg.store) if e.action == "login.failed" and e.target == "bob"]
    assert len(failed) == MAX_FAILURES  # each failure counted once


def test_error_pages_for_unknown_paths_and_bad_values(hub):
    _, url = hub
    for path, status in (
        ("/nowhere", 404),
        ("/log?page=abc", 422),
        ("/log?page=0", 404),
        ("/?status=bogus", 422),
    ):
        r = httpx.get(f"{url}{path}")
        assert r.status_code == status and r.headers["content-type"].startswith("text/html")
        assert "<h1>" in r.text and 'role="alert"' in r.text
