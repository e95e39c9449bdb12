"""Several hosts: two ``weightwatch serve`` processes with their own scratch directories
share one PostgreSQL database, one S3 server (SeaweedFS) and one local Ray instance.

What one host does is seen by the other at once: an upload through A (registered by a
Ray worker) downloads from B through the real ``huggingface_hub`` via redirects; a
derivative uploaded to B is linked to the base registered through A (fingerprints in the
database, B's index caught up); a takedown on B refuses downloads on A. A host killed
mid-registration leaves no visible version and nothing the collector cannot reclaim."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import free_port, fresh_database, hub_client
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PASSWORD = "correct horse battery"


def _database(server: str) -> str:
    return fresh_database(server, "hosts")


class Host:
    """One ``weightwatch serve`` process on its own scratch directory."""

    def __init__(self, root: Path, db: str, env: dict[str, str]) -> None:
        self.root, self.db, self.env = root, db, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> Host:
        cmd = [sys.executable, "-m", "weightwatch", "serve", "--registry", str(self.root)]
        cmd += ["--db-url", self.db, "--port", str(self.port)]
        log = open(self.root.parent / f"{self.root.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/models", timeout=2).status_code < 500:
                    return self
            assert self.proc.poll() is None, (
                self.root.parent / f"{self.root.name}.log"
            ).read_text()[-3000:]
            time.sleep(0.3)
        raise AssertionError(f"host {self.root.name} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )


@pytest.fixture
def cluster(tmp_path, postgres_url, s3_blobs, request):  # type: ignore[no-untyped-def]
    db = _database(postgres_url)
    runner = os.environ.get("WEIGHTWATCH_TEST_HOSTS_RUNNER", "ray")  # "thread": without Ray
    # the run's one local Ray instance, which the server processes join (tests/conftest.py)
    address = request.getfixturevalue("ray_address") if runner == "ray" else ""
    reg = Registry.open(tmp_path / "a", db, init=True, blobs=s3_blobs)
    create_user(reg.store, "root", PASSWORD, role="admin")
    token = create_token(reg.store, "root")
    shutil.copytree(tmp_path / "a" / "keys", tmp_path / "b" / "keys")  # one signing key
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "WEIGHTWATCH_BLOBS_URL": s3_blobs,
        "WEIGHTWATCH_DOWNLOADS": "redirect",
        "WEIGHTWATCH_RUNNER": runner,
        "RAY_ADDRESS": address,
    }
    hosts = [Host(tmp_path / n, db, env) for n in ("a", "b")]
    try:
        for h in hosts:
            h.start()
        yield reg, hosts[0], hosts[1], token, env
    finally:
        for h in hosts:
            h.stop()
        reg.close()


def _upload(c: httpx.Client, model: str, folder: Path) -> dict[str, Any]:
    r = c.post("/api/v1/uploads", json={"model": model, "access": "public"})
    assert r.status_code == 201, r.text
    upload = r.json()["id"]
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            assert c.put(f"/api/v1/uploads/{upload}/files/{rel}", content=p.read_bytes()).is_success
    assert c.post(f"/api/v1/uploads/{upload}/finish").status_code == 202
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        doc = c.get(f"/api/v1/uploads/{upload}").json()
        if doc["state"] in ("done", "failed"):
            return dict(doc)
        time.sleep(0.5)
    raise AssertionError(f"upload {upload} did not finish: {doc}")


def test_two_hosts_share_everything(cluster, llama_family, tmp_path):
    reg, a, b, token, _ = cluster
    with a.client(token) as ca:
        done = _upload(ca, "acme/base", llama_family.base)
    assert done["state"] == "done", done
    # registered by a Ray worker: neither server process owns the job
    with reg.store.engine.connect() as conn:
        from sqlalchemy import select

        from weightwatch.registry import schema

        owner = conn.execute(select(schema.jobs.c.owner)).scalar_one()
    pid = int(str(owner).rsplit(":", 1)[1])
    if os.environ.get("WEIGHTWATCH_TEST_HOSTS_RUNNER", "ray") == "ray":
        assert pid not in (a.proc.pid, b.proc.pid, os.getpid())  # type: ignore[union-attr]
    # visible on B, and downloaded from B through redirects to the object store
    r = httpx.get(f"{b.url}/acme/base/resolve/main/model.safetensors")
    assert r.status_code == 302 and r.headers["location"].startswith(os.environ["AWS_ENDPOINT_URL"])
    out = hub_client(
        b.url,
        tmp_path / "hf",
        "from huggingface_hub import snapshot_download\nprint(snapshot_download('acme/base'))\n",
    )
    got = Path(out.split()[-1])
    for f in llama_family.base.iterdir():
        if f.is_file():
            assert (got / f.name).read_bytes() == f.read_bytes(), f.name
    # a derivative uploaded to B is linked to the base registered through A
    with b.client(token) as cb:
        tuned = _upload(cb, "acme/tuned", llama_family.finetune)
    assert tuned["state"] == "done", tuned
    view = reg.status("acme/tuned")
    detected = [(e.model, e.relation) for e in view.parents if e.kind == "detected"]
    assert detected and detected[0][0].startswith("acme/base"), view.parents
    # a takedown on B refuses downloads on A at once
    with b.client(token) as cb:
        r = cb.post("/api/v1/models/acme/base/versions/1/takedown", json={"reason": "test"})
        assert r.status_code == 200, r.text
    refused = httpx.get(f"{a.url}/acme/base/resolve/main/config.json")
    assert refused.status_code >= 400 and "location" not in refused.headers


def test_host_killed_mid_registration_leaves_nothing_visible(cluster, llama_family, tmp_path):
    reg, a, b, token, _ = cluster
    a.stop()
    a.start(WEIGHTWATCH_CRASH_AFTER="ingest", WEIGHTWATCH_RUNNER="inline")
    with a.client(token) as ca:
        r = ca.post("/api/v1/uploads", json={"model": "acme/crash", "access": "public"})
        upload = r.json()["id"]
        for p in sorted(llama_family.independent.rglob("*")):
            if p.is_file():
                rel = p.relative_to(llama_family.independent).as_posix()
                ca.put(f"/api/v1/uploads/{upload}/files/{rel}", content=p.read_bytes())
        ca.post(f"/api/v1/uploads/{upload}/finish")
    assert a.proc is not None and a.proc.wait(120) == -signal.SIGKILL  # died after ingest
    # the blobs are in the store, the version is not visible on the surviving host
    assert httpx.get(f"{b.url}/api/models/acme/crash").status_code == 404
    assert httpx.get(f"{b.url}/acme/crash/resolve/main/config.json").status_code == 404
    stored = {d for d, _ in reg.store.blobs.listing()}
    crash_blobs = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in llama_family.independent.rglob("*")
        if p.is_file()
    }
    assert crash_blobs <= stored
    # the dead host's registration is cancelled (rolled back); the collector reclaims
    [job] = [j.job for j in reg.jobs()]
    assert reg.cancel(job) in ("cancelled", "rolled back")
    done = reg.collect_blobs(grace=0)
    assert set(done.deleted) == crash_blobs
    assert not any(reg.store.blobs.exists(d) for d in crash_blobs)
