"""Downloads: many concurrent clients fetching one large model file, three ways.

A registry whose blobs live in a real S3 server (SeaweedFS, started here on 127.0.0.1)
holds a model with one large file. ``CLIENTS`` concurrent ``curl`` processes fetch it
(1) from the store directly with a presigned URL (the store's own throughput, no
weightwatch process involved), (2) through ``weightwatch serve --downloads redirect``
(access check and log write, then a 302 to a presigned URL that curl follows), and (3)
through ``weightwatch serve --downloads stream`` (every byte through one uvicorn process).
Aggregate throughput is bytes over wall time; latencies are per client (time to first
byte, and time to the whole file). ``WW_BENCH_DL_MB`` / ``WW_BENCH_DL_CLIENTS`` set the
file size (default 1024 MiB) and the number of clients (default 64).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.services import free_port, seaweedfs  # noqa: E402

from weightwatch.registry import Registry  # noqa: E402

MB = int(os.environ.get("WW_BENCH_DL_MB", "1024"))
CLIENTS = int(os.environ.get("WW_BENCH_DL_CLIENTS", "64"))


def model(tmp: Path) -> Path:
    from weightwatch.testing import build_family

    cache = Path(os.environ.get("WEIGHTWATCH_FIXTURE_CACHE") or ROOT / ".cache" / "fixtures")
    base = build_family(arch="llama", seed=0, cache=cache).base
    folder = tmp / "big"
    shutil.copytree(base, folder)
    rng = np.random.default_rng(0)
    with open(folder / "payload.dat", "wb") as f:
        for _ in range(MB):
            f.write(rng.bytes(1 << 20))
    return folder


def serve(root: Path, env: dict[str, str], mode: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weightwatch",
            "serve",
            "--registry",
            str(root),
            "--port",
            str(port),
            "--downloads",
            mode,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{url}/api/v1/models", timeout=2)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def fetch_all(url: str, *, follow: bool) -> tuple[float, list[float], list[float], int]:
    cmd = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
    ]
    if follow:
        cmd.append("-L")
    t = time.perf_counter()
    procs = [subprocess.Popen([*cmd, url], stdout=subprocess.PIPE) for _ in range(CLIENTS)]
    outs = [p.communicate()[0].decode().split() for p in procs]
    wall = time.perf_counter() - t
    bad = [o for o in outs if o[0] != "200" or int(o[3]) != MB << 20]
    assert not bad, bad[:3]
    return (
        wall,
        [float(o[1]) for o in outs],
        [float(o[2]) for o in outs],
        sum(int(o[3]) for o in outs),
    )


def row(
    label: str, wall: float, ttfb: list[float], total: list[float], nbytes: int, ref: float | None
) -> tuple[str, float]:
    mbps = nbytes / wall / 1e6
    ratio = f"{mbps / ref:.2f}×" if ref else "1.00×"
    return (
        f"| {label} | {mbps:,.0f} MB/s | {ratio} | {np.percentile(ttfb, 50) * 1000:.0f} ms | "
        f"{np.percentile(ttfb, 99) * 1000:.0f} ms | {np.percentile(total, 50):.1f} s | "
        f"{np.percentile(total, 99):.1f} s |",
        mbps,
    )


def main() -> None:
    with seaweedfs() as s3env, tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        env = {
            **os.environ,
            **s3env,
            "WEIGHTWATCH_BLOBS_URL": f"s3://{s3env['WEIGHTWATCH_TEST_BUCKET']}/bench",
        }
        os.environ.update(env)
        reg = Registry.open(tmp / "reg", init=True)
        t = time.perf_counter()
        reg.register(model(tmp), "bench/big")
        t_reg = time.perf_counter() - t
        v = reg.resolve("bench", "big", "main")
        assert v.status == "published", v.status
        f = next(f for f in reg.files(v.id) if f.path == "payload.dat")
        direct = reg.store.blobs.presign(f.sha256, filename="payload.dat", expires=3600)
        assert direct is not None
        rows: list[str] = []
        store_line, ref = row(
            "store directly (presigned GET)", *fetch_all(direct, follow=False), None
        )
        rows.append(store_line)
        for mode in ("redirect", "stream"):
            proc, url = serve(tmp / "reg", env, mode)
            try:
                res = fetch_all(f"{url}/bench/big/resolve/main/payload.dat", follow=True)
            finally:
                proc.terminate()
                proc.wait(30)
            line, _ = row(f"weightwatch serve, {mode}", *res, ref)
            rows.append(line)
        reg.close()
    print("## Downloads: redirected to the object store vs streamed\n")
    print(
        f"{CLIENTS} concurrent `curl` clients each fetch one {MB} MiB file of a registered model "
        "(SeaweedFS `weed mini` on the same machine, one `weightwatch serve` process). "
        f"Registering the model (hash, upload to the store, scan, fingerprint) took {t_reg:.0f} s. "
        "Throughput is all clients' bytes over the wall time; ratio against the store's own "
        "throughput in the same run; latencies per client.\n"
    )
    print(
        "| path | throughput | vs store | TTFB p50 | TTFB p99 | whole file p50 | whole file p99 |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
