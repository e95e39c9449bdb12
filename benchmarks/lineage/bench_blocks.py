"""The shared-units test's cost per pair, and how many alignment rounds it runs.

``lineage.blocks`` aligns the two residual bases by alternating a unit matching with a
Procrustes fit, up to ``ITERATIONS`` rounds, and stops at the first round that matches
the units as the round before did (the fit would not change again). This prints, for the
real SmolLM2-135M and Gemma 3 270M GGUFs (``make real-models``) and the tiny Llama family,
the CPU seconds of one ``block_test`` on one thread (best of 3) and the rounds each
cross-fitting fold ran, related pairs and unrelated ones.

Run: ``.venv/bin/python benchmarks/lineage/bench_blocks.py`` (``make bench`` runs it with the
lineage area).
Figures go to ``docs/benchmarks.md`` ("Lineage: the shared-units test per pair").
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rounds_and_seconds(parent: Any, child: Any) -> tuple[list[int], float, float]:
    """(matching rounds per fold, best CPU seconds of 3, log10 p) of one block test."""
    from weightwatch.lineage import blocks

    rounds: list[int] = []
    real_sim = blocks._sim
    calls = {"n": 0}

    def counted(a: Any, b: Any) -> Any:
        calls["n"] += 1
        return real_sim(a, b)

    real_align = blocks._align

    def align(ra: Any, rb: Any, da: Any, db: Any, pairs: list[tuple[int, int]]) -> Any:
        calls["n"] = 0
        out = real_align(ra, rb, da, db, pairs)
        rounds.append(calls["n"] // max(1, len(pairs)))
        return out

    blocks._sim, blocks._align = counted, align
    try:
        result = blocks.block_test(parent, child)
    finally:
        blocks._sim, blocks._align = real_sim, real_align
    assert result is not None
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        blocks.block_test(parent, child)
        best = min(best, time.process_time() - start)
    return rounds, best, result.log10_p


def main() -> None:
    from threadpoolctl import threadpool_limits

    from weightwatch.fingerprint import fingerprint
    from weightwatch.testing.family import build_family, default_cache
    from weightwatch.testing.real_models import fetch

    real = fetch()
    smollm2 = fingerprint(real["smollm2-135m-instruct-q4_1"])
    gemma = fingerprint(real["gemma-3-270m-q4_k_m"])
    tiny = build_family(arch="llama", cache=default_cache())
    base, ft, other = (fingerprint(p) for p in (tiny.base, tiny.finetune, tiny.independent))
    pairs = {
        "SmolLM2-135M vs Gemma 3 270M (unrelated)": (smollm2, gemma),
        "Gemma 3 270M vs SmolLM2-135M (unrelated)": (gemma, smollm2),
        "SmolLM2-135M vs itself": (smollm2, smollm2),
        "tiny Llama base vs its fine-tune": (base, ft),
        "tiny Llama base vs an independent base": (base, other),
    }
    print("### Lineage: the shared-units test per pair (issue #18)\n")
    print(
        "One `block_test`, one BLAS thread, best of 3 (CPU seconds), and the alignment rounds"
        " each cross-fitting fold ran before a round matched the units as the last one did.\n"
    )
    print(f"| pair | rounds per fold (of {_iterations()}) | CPU s, one thread | log10 p |")
    print("|---|---:|---:|---:|")
    for label, (a, b) in pairs.items():
        with threadpool_limits(1):
            rounds, seconds, log10_p = rounds_and_seconds(a, b)
        print(f"| {label} | {', '.join(map(str, rounds))} | {seconds:.3f} | {log10_p:.1f} |")


def _iterations() -> int:
    from weightwatch.lineage.blocks import ITERATIONS

    return ITERATIONS


if __name__ == "__main__":
    main()
