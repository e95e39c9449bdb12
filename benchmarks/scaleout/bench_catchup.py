"""How long a host's fingerprint index takes to catch up with the database.

100,000 fingerprint rows (random unit vectors of the real first-tier dimension; the
bytes of the full fingerprint are a placeholder, since catch-up reads only vectors) are
written to a registry database, then a fresh host index catches up from sequence 0
(``registry.fingerprints.catch_up``: batched reads, hnswlib inserts, one atomic write).
Then one new registration is caught up incrementally, and the cost of the check when
nothing is new (what every lineage step pays) is timed. SQLite, and PostgreSQL when its
server binaries are installed. ``WW_BENCH_CATCHUP_N`` overrides the count,
``WW_BENCH_CATCHUP_DB`` (``sqlite,postgresql``) which databases are measured.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from weightwatch.fingerprint.model import INDEX_DIM  # noqa: E402
from weightwatch.lineage.index import FingerprintIndex  # noqa: E402
from weightwatch.registry import fingerprints, schema  # noqa: E402
from weightwatch.registry.store import open_store  # noqa: E402

N = int(os.environ.get("WW_BENCH_CATCHUP_N", "100000"))
DBS = os.environ.get("WW_BENCH_CATCHUP_DB", "sqlite,postgresql").split(",")


def fill(store, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(start)
    with store.write.begin() as conn:
        if start == 0:
            conn.execute(
                schema.models.insert().values(id=1, namespace="b", name="m", created_at="t")
            )
        for lo in range(start, start + n, 10_000):
            hi = min(lo + 10_000, start + n)
            vec = rng.standard_normal((hi - lo, INDEX_DIM)).astype(np.float32)
            vec /= np.linalg.norm(vec, axis=1, keepdims=True)
            ids = range(lo + 1, hi + 1)
            conn.execute(
                schema.versions.insert(),
                [
                    {
                        "id": i,
                        "model_id": 1,
                        "number": i,
                        "state": "complete",
                        "status": "published",
                        "access": "public",
                        "source": "-",
                        "created_at": "t",
                    }
                    for i in ids
                ],
            )
            conn.execute(
                schema.fingerprints.insert(),
                [
                    {
                        "version_id": i,
                        "vector": v.tobytes(),
                        "layers": 4,
                        "data": b"-",
                        "created_at": "t",
                    }
                    for i, v in zip(ids, vec, strict=True)
                ],
            )
            conn.execute(schema.fingerprint_index.insert(), [{"version_id": i} for i in ids])


def measure(url: str | None, label: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "reg", url, init=True)
        t = time.perf_counter()
        fill(store, N)
        t_fill = time.perf_counter() - t
        t = time.perf_counter()
        added = fingerprints.catch_up(store)
        t_full = time.perf_counter() - t
        assert added == N, added
        fill(store, 1, start=N)
        t = time.perf_counter()
        assert fingerprints.catch_up(store) == 1
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(100):
            assert fingerprints.catch_up(store) == 0
        t_none = (time.perf_counter() - t) / 100
        # a second host (another folder) catching up from zero reads the same rows
        other = FingerprintIndex(Path(tmp) / "other", create=True)
        t = time.perf_counter()
        other.catch_up(lambda after: fingerprints.fetch(store, after))
        t_other = time.perf_counter() - t
        store.engine.dispose()
    return (
        f"| {label} | {N:,} | {t_fill:.1f} s | {t_full:.1f} s ({N / t_full:,.0f}/s) | "
        f"{t_other:.1f} s | {t_one * 1000:.0f} ms | {t_none * 1000:.1f} ms |"
    )


def main() -> None:
    rows = [measure(None, "SQLite")] if "sqlite" in DBS else []
    try:
        if "postgresql" not in DBS:
            raise LookupError("not asked for")
        from tests.services import postgres

        with postgres() as url:
            rows.append(measure(url, "PostgreSQL 15"))
    except BaseException as exc:
        rows.append(f"| PostgreSQL | not measured: {type(exc).__name__} | | | | | |")
    print("## Fingerprint index catch-up (several hosts)\n")
    print(
        f"A fresh host's hnswlib index catching up with {N:,} fingerprints held in the "
        "database (`registry/fingerprints.py`), then one new registration, then the check "
        "every lineage step makes when nothing is new. Filling the table is the "
        "benchmark's own bulk insert, shown for scale.\n"
    )
    print(
        "| database | fingerprints | fill table | catch-up from 0 | 2nd host from 0 | +1 new | nothing new |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
