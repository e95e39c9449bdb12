"""Takedowns that hold, through the real server on SQLite and PostgreSQL: a copy of a
taken-down model uploaded by another organisation is blocked and downloadable by nobody
but staff; unreadable weights are quarantined; downloaders see recall notices over the
API and the web UI; webhooks are registered over the API and their delivery log read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.server.test_uploads import (  # noqa: F401  (serve is a fixture)
    PASSWORD,
    Site,
    _finish_and_follow,
    _put_folder,
    _start,
    serve,
)

pytestmark = pytest.mark.slow

REASON = "leaked weights"


def _upload(site: Site, user: str, model: str, folder: Path) -> dict:  # type: ignore[type-arg]
    with site.client(user) as c:
        upload = _start(c, model)
        _put_folder(c, upload, folder)
        return _finish_and_follow(c, upload)


def test_a_reupload_of_a_taken_down_model_is_blocked(serve, llama_family, db_url, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    site = serve(db_url)
    assert _upload(site, "alice", "acme/base", llama_family.base)["state"] == "done"
    with site.client("carol") as carol:  # carol downloads it while it is public
        r = carol.get("/acme/base/resolve/main/model.safetensors", follow_redirects=True)
        assert r.status_code == 200
        assert carol.get("/api/v1/recall").json() == []
        r = carol.post("/api/v1/webhooks", json={"url": "ftp://example.org/"})
        assert r.status_code in (400, 422), r.text
        r = carol.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 201 and len(r.json()["secret"]) == 64
        hook = r.json()["id"]
    with site.client("root") as root:
        r = root.post("/api/v1/models/acme/base/versions/1/takedown", json={"reason": REASON})
        assert r.status_code == 200, r.text

    # bob's organisation uploads the same weights, and an int8 copy
    assert _upload(site, "bob", "other/fresh", llama_family.base)["state"] == "done"
    assert _upload(site, "bob", "other/small", llama_family.int8)["state"] == "done"
    for name in ("fresh", "small"):
        for who in (None, "bob", "carol"):  # nobody but staff: refused (Hub: disabled)
            with site.client(who) as c:
                assert c.get(f"/other/{name}/resolve/main/config.json").status_code in (403, 404)
                assert c.get(f"/api/v1/models/other/{name}").status_code == 404
        with site.client("root") as root:
            doc = root.get(f"/api/v1/models/other/{name}/versions/1").json()
            assert doc["status"] == "blocked"
            assert doc["decision"]["reasons"][0].startswith("copy of withdrawn acme/base@1")
            assert REASON in doc["decision"]["reasons"][0]
            assert "acme/base@1" in [p["model"] for p in doc["parents"]]

    # random bytes as model.safetensors: quarantined, the file named
    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "model.safetensors").write_bytes(os.urandom(4096))
    assert _upload(site, "bob", "other/noise", rb)["state"] == "done"
    with site.client("root") as root:
        doc = root.get("/api/v1/models/other/noise/versions/1").json()
        assert doc["status"] == "quarantined"
        assert any(
            r.startswith("weights not inspectable: model.safetensors")
            for r in doc["decision"]["reasons"]
        )

        recall = root.get("/api/v1/models/acme/base/versions/1/recall").json()
        assert recall["accounts"] == ["carol"] and recall["reason"] == REASON
        assert recall["entries"][0]["token"] and recall["entries"][0]["path"] == "model.safetensors"
    with site.client("carol") as carol:
        assert carol.get("/api/v1/models/acme/base/versions/1/recall").status_code == 403
        notices = carol.get("/api/v1/recall").json()
        assert [(n["version"], n["reason"]) for n in notices] == [("acme/base@1", REASON)]
        log = carol.get(f"/api/v1/webhooks/{hook}/deliveries").json()
        assert len(log) == 1 and log[0]["event"] == "model.takedown"
        for _ in range(100):  # the server's delivery loop tries it (nothing listens there)
            log = carol.get(f"/api/v1/webhooks/{hook}/deliveries").json()
            if log[0]["attempts"]:
                break
            time.sleep(0.1)
        assert log[0]["attempts"][0]["error"] and log[0]["attempts"][0]["status_code"] is None
    with site.client("bob") as bob:
        assert bob.get("/api/v1/recall").json() == []  # bob never downloaded it
        assert bob.get(f"/api/v1/webhooks/{hook}/deliveries").status_code in (403, 404)
    assert httpx.get(f"{site.url}/api/v1/recall").status_code == 401

    # the web UI: a notice on carol's account page and on the model page; none for bob
    for user, expect in (("carol", True), ("bob", False)):
        with httpx.Client(base_url=site.url, timeout=60) as browser:
            r = browser.post("/login", data={"user": user, "password": PASSWORD, "next": "/"})
            assert r.status_code == 303, r.text
            account = browser.get("/account").text
            page = browser.get("/models/acme/base").text
        assert ("Recall notices" in account and "acme/base@1" in account) is expect
        assert ("Recall: you downloaded this version" in page) is expect
    with httpx.Client(base_url=site.url, timeout=60) as browser:
        browser.post("/login", data={"user": "root", "password": PASSWORD, "next": "/"})
        assert "Recall list: 1 account(s), 1 API token(s)" in browser.get("/models/acme/base").text


def test_wrapped_reuploads_through_the_server_are_blocked(serve, llama_family, db_url, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    """The wrappers an evader would use, uploaded through the server after a takedown."""
    from tests.registry.test_takedowns_hold import WRAPPERS, _wrapped

    site = serve(db_url)
    assert _upload(site, "alice", "acme/base", llama_family.base)["state"] == "done"
    with site.client("root") as root:
        r = root.post("/api/v1/models/acme/base/versions/1/takedown", json={"reason": REASON})
        assert r.status_code == 200, r.text
    for how in WRAPPERS:
        name = "w-" + how.replace(".", "-")
        folder = _wrapped(llama_family.base, tmp_path / name, how)
        assert _upload(site, "bob", f"other/{name}", folder)["state"] == "done", how
        with site.client("bob") as bob:  # the uploader cannot fetch it
            assert bob.get(f"/other/{name}/resolve/main/config.json").status_code in (403, 404)
        with site.client("root") as root:
            doc = root.get(f"/api/v1/models/other/{name}/versions/1").json()
            assert doc["status"] == "blocked", (how, doc["decision"])
            assert doc["decision"]["reasons"][0].startswith("copy of withdrawn acme/base@1"), how
