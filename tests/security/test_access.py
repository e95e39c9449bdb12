"""Findings 4, 8 and 13, and the attacks that already held: tier bypass on every download
route, IDOR on numeric ids, CSRF on cookie-authenticated writes."""

from __future__ import annotations

from contextlib import closing

import httpx
import pytest

from tests.security.conftest import MODEL, Site
from weightwatch.registry.access import grants

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("tier", ["public", "restricted", "quarantined", "taken_down", "nowhere"])
def test_ui_access_request_goes_through_the_registry_check(site: Site, tier: str) -> None:
    """Finding 4: the form refuses what the API refuses, creates no grant row, and a
    hidden model answers exactly like one that does not exist."""
    name = MODEL.get(tier, "acme/nowhere")
    http, csrf = site.browser_session("alice", "192.0.2.40")
    with closing(http):
        r = http.post(f"/models/{name}/request", data={"csrf": csrf, "field-0": "x"})
        api = http.post(
            f"/api/v1/models/{name}/access-requests",
            json={"answers": {}},
            headers={"X-CSRF-Token": csrf},
        )
    hidden = tier in ("restricted", "quarantined", "nowhere")
    assert r.status_code == (404 if hidden else 409), (tier, r.status_code)
    assert api.status_code == r.status_code
    if hidden:
        assert "There is no model" in r.text
    if tier != "nowhere":
        assert not [g for g in grants(site.reg.store, name) if g.user == "alice"]


def test_watermark_detection_never_names_hidden_models(site: Site) -> None:
    """Finding 8: a key id of a model the caller cannot see answers like an unknown one."""
    body = {"token_ids": list(range(64)), "key_ids": [site.key_id]}
    unknown = {"token_ids": list(range(64)), "key_ids": ["0" * len(site.key_id)]}
    with site.client("alice") as http:
        hidden = http.post("/api/watermark/detect", json=body)
        missing = http.post("/api/watermark/detect", json=unknown)
    assert hidden.status_code == missing.status_code == 404
    assert MODEL["restricted"] not in hidden.text
    assert hidden.json()["error"].replace(site.key_id, "K") == missing.json()["error"].replace(
        "0" * len(site.key_id), "K"
    )
    with site.client("member") as http:  # in the organisation the model is restricted to
        seen = http.post("/api/watermark/detect", json=body)
    assert seen.status_code == 200 and seen.json()["models"] == [MODEL["restricted"] + "@1"]


def test_api_and_form_share_one_detection_rate_limit(site: Site) -> None:
    """Finding 8: the API and the form draw from one bucket per user (burst 10)."""
    body = {"token_ids": list(range(64)), "key_ids": [site.key_id]}
    http, csrf = site.browser_session("reviewer", "192.0.2.41")
    codes = []
    with closing(http), site.client("reviewer") as api:
        for _ in range(6):
            codes.append(api.post("/api/watermark/detect", json=body).status_code)
            form = {"csrf": csrf, "key_ids": site.key_id, "token_ids": "1 2 3 4 5 6 7 8"}
            codes.append(http.post("/watermark", data=form).status_code)
    assert codes[:10].count(429) == 0 and 429 in codes[10:], codes


def test_taken_down_attestation_is_withheld_like_its_files(site: Site) -> None:
    """Finding 13: the attestation (whose manifest lists every file) answers as /files."""
    base = f"/api/v1/models/{MODEL['taken_down']}/versions/1"
    for role in (None, "alice", "owner", "auditor", "reviewer", "admin"):
        with site.client(role) as http:
            files, att = http.get(base + "/files"), http.get(base + "/attestation")
        assert files.status_code == att.status_code, (role, files.status_code, att.status_code)
        assert files.status_code in (200, 403)
    with site.client() as http:
        page = http.get(f"/models/{MODEL['taken_down']}")
    assert page.status_code == 200 and "DSSE envelope" not in page.text


DOWNLOADS = [
    ("GET", "/{m}/resolve/main/config.json"),
    ("HEAD", "/{m}/resolve/main/config.json"),
    ("GET", "/{m}/resolve/v1/config.json"),
    ("GET", "/api/models/{m}/tree/main"),
    ("GET", "/api/v1/models/{m}/versions/1/files"),
]


@pytest.mark.parametrize("tier", ["gated", "restricted", "quarantined", "taken_down"])
def test_no_download_route_bypasses_the_tier(site: Site, tier: str) -> None:
    """Held before: no route hands the weights of a tier to an outsider."""
    for method, template in DOWNLOADS:
        path = template.format(m=MODEL[tier])
        for role in (None, "alice", "rival"):
            with site.client(role) as http:
                r = http.request(method, path)
            if "/resolve/" in path:
                assert r.status_code in (401, 403, 404), (method, path, role, r.status_code)
                assert b"hidden_size" not in r.content
            elif tier != "gated":
                assert r.status_code in (401, 403, 404), (method, path, role, r.status_code)


def test_numeric_ids_do_not_leak_other_callers_records(site: Site) -> None:
    """Held before (IDOR): audit rows by id are for overseers; uploads by id for their
    uploader; log entries are public by design and hold no secrets."""
    with site.client("alice") as http:
        for path in ("/api/v1/audit/events?before=1000", "/api/v1/audit/downloads?before=1000"):
            assert http.get(path).status_code == 403
    with site.client("owner") as owner:
        up = owner.post("/api/v1/uploads", json={"model": "acme/idor", "access": "public"})
        assert up.status_code == 201, up.text
        upload_id = up.json()["id"]
    with site.client("rival") as rival:
        assert rival.get(f"/api/v1/uploads/{upload_id}").status_code == 403
        assert rival.delete(f"/api/v1/uploads/{upload_id}").status_code == 403
    with site.client("owner") as owner:
        assert owner.delete(f"/api/v1/uploads/{upload_id}").status_code == 200


def test_cookie_writes_need_the_csrf_token(site: Site) -> None:
    """Held before: a cookie-authenticated write without the session's CSRF token."""
    http, _ = site.browser_session("alice", "192.0.2.42")
    with closing(http):
        assert http.post("/api/v1/tokens").status_code == 403
        assert http.post("/api/v1/tokens", headers={"X-CSRF-Token": "forged"}).status_code == 403
        r = http.post(f"/models/{MODEL['gated']}/request", data={"field-0": "x"})
        assert r.status_code == 403


def test_tokens_and_cookies_are_not_echoed(site: Site) -> None:
    """Held before (token hygiene): secrets never come back in bodies; the session cookie
    is HttpOnly and SameSite."""
    r = httpx.post(
        f"{site.url}/api/v1/login",
        json={"user": "auditor", "password": "correct horse battery staple"},
        headers={"X-Forwarded-For": "192.0.2.43"},
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    with site.client("auditor") as http:
        me = http.get("/api/v1/me")
        bad = http.get("/api/v1/me", headers={"Authorization": "Bearer ww_leak-me"})
    assert site.tokens["auditor"] not in me.text and "ww_leak-me" not in bad.text
