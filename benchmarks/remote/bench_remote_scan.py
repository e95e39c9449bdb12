"""Remote scan vs download-then-scan, over weightwatch's own Hub-compatible server.

Two repositories are served on 127.0.0.1 by ``weightwatch serve`` (a registry whose policy
hosts what it is given, as a Hub does): the demo's malicious model (tiny Llama with a
pickle that runs a shell command) and the same with a larger safetensors file
(``WW_BENCH_MB`` MiB, default 128, plus the malicious pickle). Each is scanned two ways:
``weightwatch scan hf://…`` (sparse mirror through range requests) and the anchor,
``huggingface_hub.snapshot_download`` from the same endpoint followed by a local scan.
Bytes are the response bodies received; times are wall-clock, median of 3.
"""

from __future__ import annotations

import os

# the anchor downloads from 127.0.0.1 only; huggingface_hub reads this when first imported
os.environ["HF_HUB_OFFLINE"] = "0"

import contextlib
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from weightwatch.registry import Registry
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user
from weightwatch.scan import scan_paths
from weightwatch.scan.remote import scan_sources
from weightwatch.testing import build_family
from weightwatch.testing.demo import _malicious

MB = int(os.environ.get("WW_BENCH_MB", "128"))


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    """uvicorn on a free 127.0.0.1 port in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


POLICY = """schema_version: 1
id: unscanned-hub
version: "1"
extends: default
disable: [scan-code-execution, scan-suspicious]
"""


def downloaded(url: str, token: str, repo: str, dest: Path) -> tuple[int, float, str]:
    import huggingface_hub

    t = time.perf_counter()
    path = huggingface_hub.snapshot_download(
        repo, endpoint=url, token=token, local_dir=dest, revision="main"
    )
    report = scan_paths([path])
    took = time.perf_counter() - t
    size = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return size, took, report.verdict.value


def main() -> None:
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        root = Path(tmp)
        family = build_family(arch="llama", seed=0, cache=root / "cache")
        small = _malicious(family.base, root / "malicious")
        big = _malicious(family.base, root / "malicious-big")
        rng = np.random.default_rng(0)
        n = max(1, MB // 16)
        save_file(
            {
                f"extra.{i}.weight": rng.standard_normal((2048, 2048), dtype=np.float32)
                for i in range(n)
            },
            big / "extra.safetensors",
        )
        reg = Registry.open(root / "reg", init=True)
        (root / "reg" / "policy.yaml").write_text(POLICY)
        reg.register(small, "mallory/llama-helper")
        reg.register(big, "mallory/llama-helper-big")
        create_user(reg.store, "admin", "correct horse battery staple", role="admin")
        token = create_token(reg.store, "admin")
        from weightwatch.server import create_app

        with serving(create_app(root / "reg")) as url:
            for repo in ("mallory/llama-helper", "mallory/llama-helper-big"):
                times, dl_times = [], []
                for i in range(3):
                    t = time.perf_counter()
                    report, stats = scan_sources([f"hf://{repo}"], endpoint=url, token=token)
                    times.append(time.perf_counter() - t)
                    size, took, verdict = downloaded(url, token, repo, root / f"dl-{i}")
                    dl_times.append(took)
                    assert verdict == report.verdict.value, (verdict, report.verdict)
                st = next(iter(stats.values()))
                rows.append(
                    (
                        repo,
                        st,
                        statistics.median(times),
                        size,
                        statistics.median(dl_times),
                        report.verdict.value,
                    )
                )
        reg.close()
    print("### Remote scan vs download-then-scan (weightwatch's own server on 127.0.0.1)\n")
    print(
        "Anchor: `huggingface_hub.snapshot_download` from the same endpoint, then a local "
        "scan. Same verdict both ways on every run (asserted). Loopback HTTP, so times "
        "measure the work, not a network; over a real link the download time grows with "
        "the bytes column.\n"
    )
    print(
        "| repository | verdict | total (MiB) | remote: fetched (KiB) | fetched % | requests "
        "| remote (s) | download+scan (s) | time ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for repo, st, t, size, dl, verdict in rows:
        print(
            f"| {repo} | {verdict} | {size / 2**20:.1f} | {st.bytes_fetched / 1024:.1f} | "
            f"{100 * st.bytes_fetched / st.bytes_total:.2f} | {st.requests} | {t:.2f} | "
            f"{dl:.2f} | {dl / t:.1f}x |"
        )


if __name__ == "__main__":
    main()
