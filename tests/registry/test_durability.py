"""Crashes mid-registration, concurrent registering processes, and the Ray job backend."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys

import pytest

from weightwatch.attest.logstore import verify_log
from weightwatch.errors import RegistryError
from weightwatch.registry import Registry
from weightwatch.registry.pipeline import CRASH_ENV

pytestmark = pytest.mark.slow

REGISTER = """
import sys
from weightwatch.registry import Registry
Registry.open(sys.argv[1], sys.argv[2]).register(sys.argv[3], sys.argv[4])
"""


@pytest.mark.parametrize(
    "point",
    ["ingest:claim", "ingest:before", "ingest", "scan", "fingerprint", "lineage", "decide:before"],
)
def test_killed_mid_registration_is_invisible_then_resumes(tmp_path, llama_family, point):
    root, url = tmp_path / "reg", f"sqlite:///{tmp_path / 'reg.db'}"
    reg = Registry.open(root, url, init=True)
    reg.register(llama_family.base, "org/base")
    size_before = reg.store.log.size()
    env = {**os.environ, CRASH_ENV: point}
    proc = subprocess.run(
        [sys.executable, "-c", REGISTER, str(root), url, str(llama_family.finetune), "org/ft"],
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    reopened = Registry.open(root, url)
    with pytest.raises(RegistryError, match="no registered version"):
        reopened.status("org/ft")  # nothing half-registered is visible
    assert [v.model for v in reopened.versions()] == ["org/base@1"]
    assert (
        reopened.store.log.size() == size_before and verify_log(reopened.store.log) == size_before
    )
    assert reopened.resume() == ["done"]
    v = reopened.status("org/ft")
    assert v.state == "complete" and v.files == reg.status("org/base").files
    assert [p.model for p in v.parents if p.kind == "detected"] == ["org/base@1"]
    assert verify_log(reopened.store.log) == size_before + 1
    assert reopened.resume() == []  # nothing left


def test_a_crash_after_the_decision_committed_leaves_a_complete_version(tmp_path, llama_family):
    root, url = tmp_path / "reg", f"sqlite:///{tmp_path / 'reg.db'}"
    Registry.open(root, url, init=True)
    env = {**os.environ, CRASH_ENV: "decide"}
    proc = subprocess.run(
        [sys.executable, "-c", REGISTER, str(root), url, str(llama_family.base), "org/base"],
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == -9
    reg = Registry.open(root, url)
    assert reg.status("org/base").state == "complete"
    assert reg.resume() == []


def _register_many(root: str, url: str, path: str, worker: int, n: int) -> None:
    reg = Registry.open(root, url)
    for i in range(n):
        reg.register(path, f"org/w{worker}-{i}" if i % 2 else "org/shared")


def test_concurrent_registering_processes(tmp_path, llama_family, db_url):
    root = tmp_path / "reg"
    Registry.open(root, db_url, init=True).close()
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_register_many, args=(str(root), db_url, str(llama_family.int8), w, 3))
        for w in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=900)
        assert p.exitcode == 0
    reg = Registry.open(root, db_url)
    views = reg.versions()
    names = sorted(v.model for v in views)
    # 3 workers x 3 registrations: "org/shared" got versions 1..6 with no gap or duplicate
    assert [n for n in names if n.startswith("org/shared@")] == [
        f"org/shared@{i}" for i in range(1, 7)
    ]
    assert sorted(n for n in names if not n.startswith("org/shared")) == [
        f"org/w{w}-1@1" for w in range(3)
    ]
    assert all(v.state == "complete" for v in views)
    log_size = reg.store.log.size()
    assert verify_log(reg.store.log) == log_size == 1 + len(views)  # the key, then one each


def test_ray_job_backend(tmp_path, llama_family, ray_address):
    reg = Registry.open(
        tmp_path / "reg", f"sqlite:///{tmp_path / 'reg.db'}", init=True, runner="ray"
    )
    try:
        jobs = [
            reg.submit(llama_family.base, "org/base"),
            reg.submit(llama_family.independent, "org/other"),
        ]
        assert reg.runner.run(jobs) == ["done", "done"]
        ft = reg.submit(llama_family.finetune, "org/ft")
        assert reg.runner.run([ft]) == ["done"]
        assert [p.model for p in reg.status("org/ft").parents if p.kind == "detected"] == [
            "org/base@1"
        ]
        assert verify_log(reg.store.log) == 4
    finally:
        reg.close()
