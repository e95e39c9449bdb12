"""Registrations per minute with one and with two server hosts sharing one PostgreSQL, one
S3 server (SeaweedFS) and one Ray instance with two workers.

Each registration is a full upload over HTTP (a tiny Llama with its own model card, so no
two are the same version) followed by the pipeline (ingest to the object store, scan,
identity, fingerprint, lineage, decision) as a Ray task. With one host all uploads go to
host A; with two they are split between A and B. ``WW_BENCH_REGS`` sets how many
registrations each configuration makes (default 12), sent by as many client threads.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.server.test_multihost import Host, _database, _upload  # noqa: E402
from tests.services import postgres, seaweedfs  # noqa: E402

from weightwatch.registry import Registry, raystart  # noqa: E402
from weightwatch.registry.access import create_token  # noqa: E402
from weightwatch.registry.accounts import create_user  # noqa: E402

N = int(os.environ.get("WW_BENCH_REGS", "12"))


def variants(tmp: Path, n: int) -> list[Path]:
    from weightwatch.testing import build_family

    cache = Path(os.environ.get("WEIGHTWATCH_FIXTURE_CACHE") or ROOT / ".cache" / "fixtures")
    base = build_family(arch="llama", seed=0, cache=cache).base
    out = []
    for i in range(n):
        d = tmp / f"m{i}"
        shutil.copytree(base, d)
        (d / "README.md").write_text(f"---\nlicense: mit\n---\n# variant {i}\n")
        out.append(d)
    return out


def run(hosts: list[Host], tokens: list[str], models: list[Path], tag: str) -> float:
    def one(i: int) -> str:  # one account per upload: an account has at most 4 open
        with hosts[i % len(hosts)].client(tokens[i]) as c:
            return str(_upload(c, f"bench/{tag}-{i}", models[i])["state"])

    t = time.perf_counter()
    with ThreadPoolExecutor(len(models)) as pool:
        states = list(pool.map(one, range(len(models))))
    wall = time.perf_counter() - t
    assert all(s == "done" for s in states), states
    return wall


def main() -> None:
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with seaweedfs() as s3env, postgres() as server, tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        os.environ.update(s3env)
        blobs = f"s3://{s3env['WEIGHTWATCH_TEST_BUCKET']}/bench"
        db = _database(server)
        if os.environ.get("WW_BENCH_RUNNER") == "thread":  # explicitly without Ray
            runner, address = "thread", ""
        else:  # real Ray: 2 worker slots; start-up retried, and a failure ends the run
            for k, v in raystart.START_TIMEOUTS.items():
                os.environ.setdefault(k, v)
            runner, address = "ray", raystart.connect(num_cpus=2, fresh=True)
        reg = Registry.open(tmp / "a", db, init=True, blobs=blobs)
        tokens = []
        for i in range(N):
            create_user(reg.store, f"admin{i}", "correct horse battery", role="admin")
            tokens.append(create_token(reg.store, f"admin{i}"))
        shutil.copytree(tmp / "a" / "keys", tmp / "b" / "keys")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "WEIGHTWATCH_BLOBS_URL": blobs,
            "WEIGHTWATCH_RUNNER": runner,
            "RAY_ADDRESS": address,
        }
        hosts = [Host(tmp / n, db, env).start() for n in ("a", "b")]
        models = variants(tmp, 2 * N + 1)
        try:
            run(hosts[:1], tokens, models[:1], "warm")  # first use: imports, connections
            one = run(hosts[:1], tokens, models[1 : N + 1], "one")
            two = run(hosts, tokens, models[N + 1 : 2 * N + 1], "two")
        finally:
            for h in hosts:
                h.stop()
            reg.close()
            if runner == "ray":
                ray.shutdown()
    print("## Registrations per minute: one and two server hosts\n")
    how = (
        "Ray tasks on one local Ray instance with 2 CPUs (2 workers)"
        if runner == "ray"
        else "**threads in each server** (WW_BENCH_RUNNER=thread)"
    )
    print(
        f"{N} uploads sent at once (HTTP, a 0.7 M-parameter Llama each), registered by {how}; "
        "one PostgreSQL, one SeaweedFS, all on this machine. A warm-up registration first.\n"
    )
    print("| hosts | registrations | wall time | registrations/min |")
    print("|---|---|---|---|")
    print(f"| 1 | {N} | {one:.0f} s | {N / one * 60:.1f} |")
    print(f"| 2 | {N} | {two:.0f} s | {N / two * 60:.1f} |")


if __name__ == "__main__":
    main()
