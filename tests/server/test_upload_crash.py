"""The server killed (SIGKILL) mid-upload and mid-registration: after a restart nothing
partial is visible or left on disk, the log verifies, and the upload can be retried.

The server runs as ``python -m weightwatch serve`` in a subprocess; the multi-GB file is
generated while it streams (a 2.25 GiB safetensors file next to a tiny real model), so
neither side ever holds it in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.services import free_port
from weightwatch.attest.logstore import verify_log
from weightwatch.registry import Registry, schema
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user
from weightwatch.registry.pipeline import CRASH_ENV

pytestmark = pytest.mark.slow

BIG = "extra/calibration.safetensors"
BIG_MIB = 2304  # 2.25 GiB
BLOCK = bytes(range(256)) * 4096  # 1 MiB, reused: the file is generated, never held


def _big_file(sent: list[int]) -> Iterator[bytes]:
    """A valid safetensors file of one U8 tensor, ``BIG_MIB`` MiB of data, as a stream."""
    n = BIG_MIB << 20
    header = json.dumps({"calibration.data": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}})
    head = header.encode() + b" " * (-len(header) % 8)
    yield struct.pack("<Q", len(head)) + head
    for _ in range(BIG_MIB):
        sent[0] += len(BLOCK)
        yield BLOCK


def _big_size() -> int:
    return sum(len(c) for c in _big_file([0]) if len(c) != len(BLOCK)) + (BIG_MIB << 20)


class Server:
    """``weightwatch serve`` on a registry, in a subprocess that can be killed."""

    def __init__(self, root: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "weightwatch", "serve", "--registry", str(root)]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()[-3000:]
            try:
                httpx.get(f"{self.url}/api/v1/uploads/{'0' * 32}", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture
def site(tmp_path):  # type: ignore[no-untyped-def]
    """A fresh registry with an admin's token; removed afterwards (GBs of test data)."""
    root = tmp_path / "reg"
    reg = Registry.open(root, init=True)
    create_user(reg.store, "root", "correct horse battery", role="admin")
    token = create_token(reg.store, "root")
    reg.close()
    servers: list[Server] = []
    yield root, token, servers
    for s in servers:
        s.stop()
    shutil.rmtree(root, ignore_errors=True)


def _client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=600
    )


def _start_upload(c: httpx.Client, model: str, folder: Path) -> str:
    r = c.post("/api/v1/uploads", json={"model": model, "access": "public"})
    assert r.status_code == 201, r.text
    upload = str(r.json()["id"])
    for p in sorted(folder.iterdir()):
        assert c.put(f"/api/v1/uploads/{upload}/files/{p.name}", content=p.read_bytes()).is_success
    return upload


def _follow(c: httpx.Client, upload: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = c.get(f"/api/v1/uploads/{upload}").json()
        if doc["state"] in ("done", "failed", "aborted"):
            return doc
        time.sleep(0.5)
    raise AssertionError(f"upload {upload} did not end: {doc}")


def _nothing_partial(root: Path, server: Server, model: str) -> None:
    assert [p for p in (root / "uploads").rglob("*") if p.is_file()] == []
    assert list((root / "blobs").glob(".incoming-*")) == []
    reg = Registry.open(root)
    try:
        with reg.store.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(schema.versions)).scalar_one()
        assert n == 0  # not even a pending row: the upload never reached the pipeline
        assert [v.model for v in reg.versions()] == []
        assert verify_log(reg.store.log) == reg.store.log.size()
    finally:
        reg.close()
    ns, name = model.split("/")
    assert httpx.get(f"{server.url}/api/models/{ns}/{name}").status_code == 404
    assert httpx.get(f"{server.url}/{ns}/{name}/resolve/main/config.json").status_code == 404


def test_sigkill_mid_upload_leaves_nothing_and_the_retry_completes(site, llama_family, tmp_path):
    root, token, servers = site
    log = tmp_path / "server.log"
    servers.append(Server(root, log))
    server = servers[-1]
    sent = [0]
    failure: list[BaseException] = []
    with _client(server, token) as c:
        upload = _start_upload(c, "org/big", llama_family.base)

        def send() -> None:
            try:
                c.put(f"/api/v1/uploads/{upload}/files/{BIG}", content=_big_file(sent))
            except httpx.TransportError as exc:  # the server died under it: expected
                failure.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + 120
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as poll:
            while (received := poll.get(f"/api/v1/uploads/{upload}").json()["received"]) < 500e6:
                assert time.monotonic() < deadline and sender.is_alive(), received
                time.sleep(0.1)
        server.kill()
        sender.join(60)
    assert failure and sent[0] < BIG_MIB << 20  # killed mid-stream, not after it
    partial = list((root / "uploads" / upload).rglob("file-*"))
    assert partial and partial[0].stat().st_size > 0  # the crash did leave a partial file

    servers.append(Server(root, log))
    server = servers[-1]
    with _client(server, token) as c:
        doc = c.get(f"/api/v1/uploads/{upload}").json()
        assert doc["state"] == "aborted" and "upload again" in doc["error"], doc
        assert doc["files"] == [] and doc["version"] is None
        _nothing_partial(root, server, "org/big")
        assert c.put(f"/api/v1/uploads/{upload}/files/x", content=b"x").status_code == 409

        retry = _start_upload(c, "org/big", llama_family.base)
        r = c.put(f"/api/v1/uploads/{retry}/files/{BIG}", content=_big_file([0]))
        assert r.status_code == 200 and r.json()["size"] == _big_size(), r.text
        assert c.post(f"/api/v1/uploads/{retry}/finish").status_code == 202
        done = _follow(c, retry)
    assert done["state"] == "done" and done["version"] == "org/big@1", done
    assert done["status"] == "published"
    head = httpx.head(f"{server.url}/org/big/resolve/main/{BIG}")
    assert head.status_code == 200 and int(head.headers["content-length"]) == _big_size()
    assert not (root / "uploads" / retry).exists()
    assert list((root / "blobs").glob(".incoming-*")) == []
    reg = Registry.open(root)
    assert verify_log(reg.store.log) == reg.store.log.size()
    reg.close()


def test_sigkill_mid_registration_resumes_at_restart(site, llama_family, tmp_path):
    root, token, servers = site
    log = tmp_path / "server.log"
    servers.append(Server(root, log, env={CRASH_ENV: "scan"}))  # dies once scan committed
    server = servers[-1]
    with _client(server, token) as c:
        upload = _start_upload(c, "org/tiny", llama_family.base)
        assert c.post(f"/api/v1/uploads/{upload}/finish").status_code == 202
    assert server.proc.wait(120) == -signal.SIGKILL
    assert (root / "uploads" / upload / "files" / "config.json").is_file()  # kept for resume
    reg = Registry.open(root)
    assert reg.versions() == []  # nothing visible yet
    reg.close()

    servers.append(Server(root, log))
    server = servers[-1]
    with _client(server, token) as c:
        done = _follow(c, upload)
    assert done["state"] == "done" and done["version"] == "org/tiny@1", done
    got = httpx.get(f"{server.url}/org/tiny/resolve/main/config.json", follow_redirects=True)
    assert got.status_code == 200
    assert not (root / "uploads" / upload).exists()
    reg = Registry.open(root)
    assert verify_log(reg.store.log) == reg.store.log.size()
    reg.close()
