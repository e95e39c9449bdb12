"""Transparency log on SQLite: append throughput and proof latency at 1,000,000 entries.

Appends: single entries (one transaction each, the registry's normal case) and batches
of 10,000 (one transaction). Proofs: inclusion proofs for random entries and
consistency proofs from random older sizes, generated from the stored subtree nodes.
``WW_BENCH_LOG_ENTRIES`` sets the size (default 1,000,000).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from weightwatch.attest.logstore import LogStore
from weightwatch.merkle import leaf_hash, verify_inclusion

N = int(os.environ.get("WW_BENCH_LOG_ENTRIES", "1000000"))


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = LogStore.open(f"sqlite:///{Path(tmp) / 'log.db'}")
        single = 2000
        t0 = time.perf_counter()
        for i in range(single):
            store.append(f'{{"entry":{i}}}'.encode(), kind="test")
        single_rate = single / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        done = single
        while done < N:
            batch = min(10_000, N - done)
            store.append_many([("test", f'{{"entry":{done + j}}}'.encode()) for j in range(batch)])
            done += batch
        batch_rate = (N - single) / (time.perf_counter() - t0)
        size = store.size()
        root = store.root()
        rng = random.Random(0)
        incl, cons = [], []
        for _ in range(1000):
            i = rng.randrange(size)
            t = time.perf_counter()
            proof = store.inclusion_proof(i, size)
            incl.append((time.perf_counter() - t) * 1000)
            verify_inclusion(leaf_hash(f'{{"entry":{i}}}'.encode()), i, size, proof, root)
        for _ in range(300):
            old = rng.randrange(1, size)
            t = time.perf_counter()
            store.consistency_proof(old, size)
            cons.append((time.perf_counter() - t) * 1000)
        db_mb = (Path(tmp) / "log.db").stat().st_size / 2**20
    print("### Transparency log: appends and proofs (SQLite, WAL)\n")
    print(
        f"Log of {size:,} entries ({db_mb:.0f} MiB database). Every inclusion proof was verified.\n"
    )
    print("| measure | value |")
    print("|---|---:|")
    print(f"| appends/s, one entry per transaction | {single_rate:,.0f} |")
    print(f"| appends/s, batches of 10,000 per transaction | {batch_rate:,.0f} |")
    print(
        f"| inclusion proof at {size:,}: median / p99 (ms) | {statistics.median(incl):.3f} / {pct(incl, 0.99):.3f} |"
    )
    print(
        f"| consistency proof at {size:,}: median / p99 (ms) | {statistics.median(cons):.3f} / {pct(cons, 0.99):.3f} |"
    )


if __name__ == "__main__":
    main()
