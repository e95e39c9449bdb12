"""Server load on loopback: a fixed concurrency for a fixed time per request kind.

The registry server (``create_app`` under uvicorn, one process, access log off) on a
seeded SQLite registry, driven by async httpx clients in another process:

1. download authorisation: ``HEAD /{ns}/{name}/resolve/main/model.safetensors`` of a
   gated model with the token of a user whose request was accepted (each request
   authenticates the token, looks up the version, checks the grant);
2. the same as a one-byte ranged ``GET`` (``Range: bytes=0-0``), which also appends to
   the download log (a write transaction per request);
3. the model page ``GET /models/{ns}/{name}`` (the web UI, rendered per request);
4. the anchor: Starlette ``StaticFiles`` under the same uvicorn, answering ``HEAD`` of the
   same file: what a trivial server does on this machine with the same client.

Environment: ``WW_BENCH_SERVER_SECONDS`` (default 20) and ``WW_BENCH_SERVER_CONCURRENCY``
(default 16).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SECONDS = float(os.environ.get("WW_BENCH_SERVER_SECONDS", "20"))
CONCURRENCY = int(os.environ.get("WW_BENCH_SERVER_CONCURRENCY", "16"))
WARMUP = 2.0

APP = textwrap.dedent(
    """
    import sys, uvicorn
    from weightwatch.server import create_app
    uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning", access_log=False)
    """
)
STATIC = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles
    app = Starlette(routes=[Mount("/", StaticFiles(directory=sys.argv[1]))])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                access_log=False)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(code: str, arg: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", code, arg, str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server on {url} did not start")


def seed(root: Path) -> str:
    """A registry with a public and a gated model and a user with accepted access."""
    from weightwatch.registry import Registry
    from weightwatch.registry.access import create_token, set_grant
    from weightwatch.registry.accounts import create_user
    from weightwatch.testing.family import build_family

    fam = build_family(arch="llama")
    reg = Registry.open(root, init=True)
    reg.register(fam.base, "bench/public")
    reg.register(fam.int8, "bench/gated", access="gated")
    create_user(reg.store, "reader", "bench-password", role="user")
    set_grant(reg.store, "bench/gated", "reader", "accepted", actor="bench")
    token = create_token(reg.store, "reader")
    reg.close()
    return token


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def print_load_note(load_before: float) -> None:
    """Say so when other work was using the cores as the run started (the run itself
    loads both cores with client and server, so only the load before it counts)."""
    load_after = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1):
        print(
            f"Machine load (1-min average) {load_before:.1f} before and {load_after:.1f} "
            "after the run: other work was using the cores when it started, and the "
            "figures are low.\n"
        )


async def load(
    url: str, method: str, headers: dict[str, str], *, ok: int, seconds: float
) -> Result:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        latencies: list[float] = []
        errors = 0
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while (t0 := time.perf_counter()) < stop:
                try:
                    r = await client.request(method, url)
                    good = r.status_code == ok
                except httpx.HTTPError:
                    good = False
                latencies.append(time.perf_counter() - t0)
                errors += not good

        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return Result(len(latencies), errors, time.perf_counter() - t_start, latencies)


def run(url: str, method: str, headers: dict[str, str], ok: int) -> Result:
    asyncio.run(load(url, method, headers, ok=ok, seconds=WARMUP))
    return asyncio.run(load(url, method, headers, ok=ok, seconds=SECONDS))


def _downloads_and_weights(root: Path) -> tuple[int, Path]:
    """Rows in the download log, and the blob of the gated model's weights."""
    from sqlalchemy import and_, func, select

    from weightwatch.registry import Registry, schema

    reg = Registry.open(root)
    with reg.store.engine.connect() as conn:
        logged = int(conn.execute(select(func.count()).select_from(schema.downloads)).scalar_one())
        digest = conn.execute(
            select(schema.files.c.sha256)
            .join(schema.versions, schema.versions.c.id == schema.files.c.version_id)
            .join(schema.models, schema.models.c.id == schema.versions.c.model_id)
            .where(
                and_(schema.models.c.name == "gated", schema.files.c.path == "model.safetensors")
            )
        ).scalar_one()
    path = reg.store.blobs.path(digest)
    reg.close()
    return logged, path


def main() -> int:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reg"
        token = seed(root)
        auth = {"Authorization": f"Bearer {token}"}
        rows: list[tuple[str, Result]] = []
        proc, url = _serve(APP, str(root))
        try:
            file_url = f"{url}/bench/gated/resolve/main/model.safetensors"
            rows.append(
                (
                    "download authorisation, `HEAD` resolve (gated, token)",
                    run(file_url, "HEAD", auth, 200),
                )
            )
            rows.append(
                (
                    "download authorisation + download log, 1-byte ranged `GET`",
                    run(file_url, "GET", {**auth, "Range": "bytes=0-0"}, 206),
                )
            )
            rows.append(
                (
                    "model page `GET /models/bench/public`",
                    run(f"{url}/models/bench/public", "GET", {}, 200),
                )
            )
            logged, blob = _downloads_and_weights(root)
        finally:
            proc.terminate()
            proc.wait(30)
        static_dir = Path(tmp) / "static"
        static_dir.mkdir()
        os.link(blob, static_dir / "model.safetensors")
        proc, url = _serve(STATIC, str(static_dir))
        try:
            rows.append(
                (
                    "anchor: Starlette `StaticFiles`, `HEAD` of the same file",
                    run(f"{url}/model.safetensors", "HEAD", {}, 200),
                )
            )
        finally:
            proc.terminate()
            proc.wait(30)

    anchor = rows[-1][1].requests / rows[-1][1].seconds
    print("### Server: load on loopback (download authorisation, model page)\n")
    print(
        f"{CONCURRENCY} concurrent keep-alive connections (httpx async, one client process) for "
        f"{SECONDS:.0f} s per case after {WARMUP:.0f} s of warm-up, against one uvicorn process "
        "(access log off) on 127.0.0.1 serving a SQLite registry; client and server share "
        f"the machine's {os.cpu_count()} cores. An error is any transport error or unexpected "
        "status.\n"
    )
    print_load_note(load_before)
    print("| case | requests | errors | req/s | p50 ms | p99 ms | vs. anchor |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        rps = r.requests / r.seconds
        print(
            f"| {name} | {r.requests} | {r.errors} | {rps:.0f} | {r.pct(0.5):.1f} | "
            f"{r.pct(0.99):.1f} | {rps / anchor:.2f}x |"
        )
    print(
        f"\nThe ranged `GET`s appended {logged} rows to the download log (warm-up included); "
        "`HEAD` requests are authorised but not logged as downloads.\n"
    )
    errors = sum(r.errors for _, r in rows)
    if errors:
        print(f"**{errors} errors**: the run failed.", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
