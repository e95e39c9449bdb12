"""Ingest alone against ``cp + sync`` (issue #18: registration reads each byte once).

``python benchmarks/real/bench_ingest.py FILE [ROUNDS]``: per round, cold (``FILE`` evicted
from the page cache with ``posix_fadvise(DONTNEED)``), ``cp FILE DIR && sync DIR/FILE`` and
then the blob store storing ``FILE`` into a fresh store beside it (``LocalBlobs.ingest``, or
on a tree without it the old route: SHA-256 to claim, then ``put``, which copies and hashes
again). Wall and CPU seconds, CPU including children's (``cp``, ``sync``). ``WW_BENCH_SRC``
points the imports at another source tree (e.g. a checkout of an older commit);
``WW_BENCH_TMP`` at the folder for the copies (the same file system as a registry's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.environ.get("WW_BENCH_SRC") or str(ROOT / "src"))


from bench_register_speed import evict  # noqa: E402 (the same folder: one page-cache eviction)


def timed(src: Path, fn: Callable[[], object]) -> tuple[float, float]:
    evict(src)
    a, w = os.times(), time.perf_counter()
    fn()
    b = os.times()
    cpu = sum(getattr(b, k) - getattr(a, k) for k in ("user", "system")) + (
        b.children_user - a.children_user + b.children_system - a.children_system
    )
    return time.perf_counter() - w, cpu


def main() -> None:
    from weightwatch.registry.blobs import LocalBlobs, hash_file

    src = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    scratch = os.environ.get("WW_BENCH_TMP")
    print(f"{src} ({src.stat().st_size / 1e9:.3f} GB), load {os.getloadavg()[0]:.1f}")
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(dir=scratch) as d:

            def cp() -> None:
                subprocess.run(["cp", str(src), d], check=True)
                subprocess.run(["sync", str(Path(d) / src.name)], check=True)

            w, c = timed(src, cp)
            print(f"cp + sync: wall {w:.2f} s, CPU {c:.2f} s", flush=True)
        with tempfile.TemporaryDirectory(dir=scratch) as d:
            blobs = LocalBlobs(Path(d) / "blobs")
            if hasattr(blobs, "ingest"):
                w, c = timed(src, lambda b=blobs: b.ingest([src], lambda digest: None))
                label = "ingest"
            else:
                w, c = timed(src, lambda b=blobs: b.put(src, digest=hash_file(src)[0]))
                label = "hash, then put"
            print(f"{label}: wall {w:.2f} s, CPU {c:.2f} s", flush=True)


if __name__ == "__main__":
    main()
