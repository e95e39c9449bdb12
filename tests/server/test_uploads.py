"""Uploads over real HTTP: a model folder file by file and as a tar, followed to the end
and downloaded through the Hub API; who may upload; bad and oversized uploads leave
nothing behind; a malicious pickle is blocked by the pipeline. Also on PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.services import serving
from weightwatch.attest.logstore import verify_log
from weightwatch.registry import Registry, schema
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import add_member, create_user, events, set_namespace_owner
from weightwatch.testing.pickle_bytes import call, torch_zip

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"  # a test account


class Site:
    """A registry served on 127.0.0.1 with accounts: an admin, publishers, a user."""

    def __init__(self, reg: Registry, url: str) -> None:
        self.reg, self.url = reg, url
        store = reg.store
        create_user(store, "root", PASSWORD, role="admin")
        create_user(store, "alice", PASSWORD, role="publisher")  # member of acme
        create_user(store, "bob", PASSWORD, role="publisher")  # member of other
        create_user(store, "carol", PASSWORD, role="user")
        add_member(store, "acme", "alice")
        add_member(store, "other", "bob")
        set_namespace_owner(store, "acme", "acme")
        set_namespace_owner(store, "other", "other")
        self.tokens = {u: create_token(store, u) for u in ("root", "alice", "bob", "carol")}

    def client(self, user: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@pytest.fixture
def serve(tmp_path):  # type: ignore[no-untyped-def]
    """serve(db_url=None, **create_app kwargs) -> Site, on a fresh registry."""
    from weightwatch.server import create_app

    with contextlib.ExitStack() as stack:
        registries: list[Registry] = []

        def start(db_url: str | None = None, **limits: int) -> Site:
            root = tmp_path / f"reg{len(registries)}"
            reg = Registry.open(root, db_url, init=True)
            registries.append(reg)
            stack.callback(reg.close)  # closed after its server stopped (callbacks unwind)
            url = stack.enter_context(serving(create_app(root, db_url, **limits)))
            return Site(reg, url)

        yield start


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _start(c: httpx.Client, model: str, access: str = "public") -> str:
    r = c.post("/api/v1/uploads", json={"model": model, "access": access})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["state"] == "receiving" and len(doc["id"]) == 32
    return str(doc["id"])


def _put_folder(c: httpx.Client, upload: str, folder: Path) -> None:
    for p in _files(folder):
        rel = p.relative_to(folder).as_posix()
        r = c.put(f"/api/v1/uploads/{upload}/files/{rel}", content=p.read_bytes())
        assert r.status_code == 200, r.text
        assert r.json()["size"] == p.stat().st_size and len(r.json()["sha256"]) == 64


def _tar(folder: Path, *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        tf.add(folder, arcname=".")
    return buf.getvalue()


def _finish_and_follow(c: httpx.Client, upload: str) -> dict[str, Any]:
    r = c.post(f"/api/v1/uploads/{upload}/finish")
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "registering" and isinstance(r.json()["job_id"], int)
    docs = []
    with c.stream("GET", f"/api/v1/uploads/{upload}/events") as events_:
        assert events_.headers["content-type"].startswith("text/event-stream")
        for line in events_.iter_lines():
            if line.startswith("data: "):
                docs.append(json.loads(line[6:]))
    assert docs and docs[-1]["state"] in ("done", "failed")
    final = c.get(f"/api/v1/uploads/{upload}").json()
    assert final == docs[-1] or final["state"] == docs[-1]["state"]
    return final


def _nothing_left(site: Site) -> None:
    """No staged files, no blob-store temporaries."""
    root = site.reg.store.root
    staged = [p for p in (root / "uploads").rglob("*") if p.is_file()]
    assert staged == [], staged
    assert list((root / "blobs").glob(".incoming-*")) == []


def _n_versions(site: Site) -> int:
    with site.reg.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.versions)).scalar_one())


def test_upload_files_follow_progress_and_download(serve, llama_family, db_url):
    site = serve(db_url)
    with site.client("alice") as alice:
        upload = _start(alice, "acme/tiny")
        _put_folder(alice, upload, llama_family.base)
        doc = alice.get(f"/api/v1/uploads/{upload}").json()
        total = sum(p.stat().st_size for p in _files(llama_family.base))
        assert doc["received"] == total and doc["job"] is None and doc["version"] is None
        assert len(doc["files"]) == len(_files(llama_family.base))
        final = _finish_and_follow(alice, upload)
    assert final["state"] == "done", final
    assert final["version"] == "acme/tiny@1" and final["status"] == "published"
    assert final["job"] == {"step": "done", "state": "done", "error": None}
    assert {f["path"] for f in final["files"]} >= {"config.json", "model.safetensors"}
    r = httpx.get(f"{site.url}/acme/tiny/resolve/main/config.json", follow_redirects=True)
    assert r.status_code == 200
    assert r.content == (llama_family.base / "config.json").read_bytes()
    _nothing_left(site)
    assert not (site.reg.store.root / "uploads" / upload).exists()
    actions = [e.action for e in events(site.reg.store) if e.action.startswith("upload.")]
    assert actions[:3] == ["upload.done", "upload.finish", "upload.start"]
    assert verify_log(site.reg.store.log) == site.reg.store.log.size()


def test_upload_as_tar_by_an_admin_gated(serve, llama_family):
    site = serve()
    with site.client("root") as root:
        upload = _start(root, "acme/tarred", access="gated")
        r = root.put(f"/api/v1/uploads/{upload}/tar", content=_tar(llama_family.base, gz=True))
        assert r.status_code == 200, r.text
        assert {f["path"] for f in r.json()["files"]} == {
            p.relative_to(llama_family.base).as_posix() for p in _files(llama_family.base)
        }
        final = _finish_and_follow(root, upload)
        assert final["state"] == "done" and final["status"] == "gated", final
    anon = httpx.get(f"{site.url}/acme/tarred/resolve/main/config.json")
    assert anon.status_code in (401, 403) and anon.headers["x-error-code"] == "GatedRepo"
    with site.client("alice") as alice:  # an owner of the namespace may download
        got = alice.get("/acme/tarred/resolve/main/config.json", follow_redirects=True)
        assert got.status_code == 200
    _nothing_left(site)


def test_who_may_upload_and_see_an_upload(serve):
    site = serve()
    with httpx.Client(base_url=site.url) as anon:
        r = anon.post("/api/v1/uploads", json={"model": "acme/x", "access": "public"})
        assert r.status_code == 401
    with site.client("carol") as carol:  # a plain user
        r = carol.post("/api/v1/uploads", json={"model": "carol/x", "access": "public"})
        assert r.status_code == 403
    with site.client("bob") as bob:  # a publisher of another organisation
        r = bob.post("/api/v1/uploads", json={"model": "acme/x", "access": "public"})
        assert r.status_code == 403 and "acme" in r.json()["error"]
        assert _start(bob, "bob/own")  # his own user namespace
        assert _start(bob, "other/model")  # his organisation's
    with site.client("alice") as alice:
        upload = _start(alice, "acme/x")
        bad = alice.post("/api/v1/uploads", json={"model": "acme/x", "access": "secret"})
        assert bad.status_code == 400
        assert alice.post("/api/v1/uploads", json={"model": "no-slash"}).status_code == 400
    with site.client("bob") as bob:
        assert bob.get(f"/api/v1/uploads/{upload}").status_code == 403
        assert bob.put(f"/api/v1/uploads/{upload}/files/a.txt", content=b"x").status_code == 403
        assert bob.delete(f"/api/v1/uploads/{upload}").status_code == 403
    with httpx.Client(base_url=site.url) as anon:
        assert anon.get(f"/api/v1/uploads/{upload}").status_code == 401
    with site.client("root") as root:
        assert root.get(f"/api/v1/uploads/{upload}").status_code == 200
        assert root.get(f"/api/v1/uploads/{'0' * 32}").status_code == 404
    with site.client("alice") as alice:
        assert alice.put(f"/api/v1/uploads/{upload}/files/a.txt", content=b"x").status_code == 200
        r = alice.delete(f"/api/v1/uploads/{upload}")
        assert r.status_code == 200 and r.json()["state"] == "aborted"
        assert alice.put(f"/api/v1/uploads/{upload}/files/b", content=b"x").status_code == 409
        assert alice.post(f"/api/v1/uploads/{upload}/finish").status_code == 409
    _nothing_left(site)
    acts = {e.action for e in events(site.reg.store)}
    assert {"upload.start", "upload.abort"} <= acts


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e/escape.txt",
        "a/%2e%2e/%2e%2e/escape.txt",
        "a%5Cb.txt",  # backslash
        "%2Fetc%2Fpasswd",  # absolute
        "a/%00/b",
        "a//b",
        "a/%2E/b",
        "x" * 1001,
    ],
)
def test_bad_paths_are_refused(serve, path):
    site = serve()
    with site.client("alice") as alice:
        upload = _start(alice, "acme/bad")
        r = alice.put(f"/api/v1/uploads/{upload}/files/{path}", content=b"data")
        assert r.status_code in (400, 404), r.text  # 404 only where routing already refuses
        if r.status_code == 400:
            assert "path" in r.json()["error"]
    _nothing_left(site)
    root = site.reg.store.root
    assert not list(root.parent.glob("escape.txt")) and not list(root.glob("escape.txt"))


def _tar_with(members: list[tarfile.TarInfo], data: bytes = b"x") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ok = tarfile.TarInfo("config.json")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"{}"))
        for m in members:
            tf.addfile(m, io.BytesIO(data) if m.isfile() else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type, m.linkname, m.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return m


@pytest.mark.parametrize(
    ("member", "says"),
    [
        (_member("link", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_member("hard", tarfile.LNKTYPE, "config.json"), "link"),
        (_member("dev", tarfile.CHRTYPE), "device"),
        (_member("../escape"), ".."),
        (_member("/abs"), "absolute"),
    ],
)
def test_bad_tars_are_refused_and_leave_nothing(serve, member, says):
    site = serve()
    with site.client("alice") as alice:
        upload = _start(alice, "acme/bad")
        r = alice.put(f"/api/v1/uploads/{upload}/tar", content=_tar_with([member]))
        assert r.status_code == 400 and says in r.json()["error"], r.text
        _nothing_left(site)
        r = alice.put(f"/api/v1/uploads/{upload}/tar", content=b"not a tar at all" * 100)
        assert r.status_code == 400 and "tar" in r.json()["error"]
        assert alice.get(f"/api/v1/uploads/{upload}").json()["received"] == 0
        assert alice.post(f"/api/v1/uploads/{upload}/finish").status_code == 400  # empty
    _nothing_left(site)
    assert _n_versions(site) == 0


def _chunks(n: int, size: int = 256 * 1024) -> Iterator[bytes]:
    block = bytes(range(256)) * (size // 256)
    for _ in range(n):
        yield block


def test_oversized_uploads_are_refused_and_leave_nothing(serve, llama_family):
    site = serve(max_file_bytes=1 << 20, max_upload_bytes=3 << 20)
    with site.client("alice") as alice:
        upload = _start(alice, "acme/big")
        # streamed, no Content-Length: refused while reading
        r = alice.put(f"/api/v1/uploads/{upload}/files/big.bin", content=_chunks(8))
        assert r.status_code == 413 and "max_file_bytes" in r.json()["error"], r.text
        assert "1.0 MiB" in r.json()["error"]
        _nothing_left(site)
        # announced: refused before reading
        r = alice.put(f"/api/v1/uploads/{upload}/files/big.bin", content=b"\0" * (2 << 20))
        assert r.status_code == 413 and "max_file_bytes" in r.json()["error"]
        # the total across files
        for i in range(3):
            r = alice.put(f"/api/v1/uploads/{upload}/files/part{i}", content=_chunks(4))
            assert r.status_code == 200, r.text  # exactly at the per-file limit
        r = alice.put(f"/api/v1/uploads/{upload}/files/part3", content=_chunks(1))
        assert r.status_code == 413 and "max_upload_bytes" in r.json()["error"], r.text
        doc = alice.get(f"/api/v1/uploads/{upload}").json()
        assert doc["received"] == 3 << 20 and len(doc["files"]) == 3
        big_tar = io.BytesIO()
        with tarfile.open(fileobj=big_tar, mode="w") as tf:
            m = tarfile.TarInfo("huge.bin")
            m.size = 2 << 20
            tf.addfile(m, io.BytesIO(b"\0" * m.size))
        r = alice.put(f"/api/v1/uploads/{upload}/tar", content=big_tar.getvalue())
        assert r.status_code == 413 and "max_file_bytes" in r.json()["error"]
        assert alice.delete(f"/api/v1/uploads/{upload}").status_code == 200
    _nothing_left(site)
    assert _n_versions(site) == 0
    assert not (site.reg.store.root / "uploads" / upload).exists()


def test_malicious_pickle_upload_is_blocked(serve, llama_family):
    site = serve()
    with site.client("alice") as alice:
        upload = _start(alice, "acme/evil")
        _put_folder(alice, upload, llama_family.base)
        payload = torch_zip(call("os", "system", "echo pwned"))
        r = alice.put(f"/api/v1/uploads/{upload}/files/pytorch_model.bin", content=payload)
        assert r.status_code == 200
        final = _finish_and_follow(alice, upload)
    assert final["state"] == "done" and final["status"] == "blocked", final
    r = httpx.get(f"{site.url}/acme/evil/resolve/main/pytorch_model.bin")
    assert r.status_code == 403  # disabled, as the Hub does
    _nothing_left(site)
