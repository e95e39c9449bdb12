"""Held-out check of the tied classes' fitted nulls: a null file against the shipped one.

Tiny Qwen2 (class ``gated-tied``) and GPT-2 (``gpt2-tied``) populations at seeds 300-307,
disjoint from the calibration's (100-105, 200-217) and the evaluation's (0-5): 8 bases, each
with a fine-tune, so 8 x 14 = 112 unrelated pairs per class (a base against every model
that shares none of its parents). For each pair the fitted p-value under each null; a valid
null gives p < alpha for about an alpha share of the pairs. The pairs share models, so the
KS p-values are approximate (too small if anything).
Run: ``python benchmarks/lineage/tied_null_check.py OLD_NULL.json`` (e.g. the file from
``git show REV:src/weightwatch/lineage/null.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from weightwatch.fingerprint import fingerprint
from weightwatch.lineage.pvalue import Nulls
from weightwatch.testing.lineage_zoo import build_population

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import unrelated_scores

SEEDS = tuple(range(300, 308))
ALPHAS = (0.1, 0.05, 0.01, 0.001)


def main(old_path: str) -> int:
    nulls = {
        "before": Nulls.from_json(json.loads(Path(old_path).read_text())),
        "shipped": Nulls.default(),
    }
    print(
        "| class | null | pairs in the null | held-out pairs | "
        + " | ".join(f"p < {a:g}" for a in ALPHAS)
        + " | KS p (two-sided) | KS p (too small) |"
    )
    print("|---|---|---:|---:|" + "---:|" * (len(ALPHAS) + 2))
    for arch in ("qwen2", "gpt2"):
        members = build_population(arch, SEEDS)
        fps = [fingerprint(m.path) for m in members]
        scores = unrelated_scores(members, fps)
        for name, n in nulls.items():
            null = n.for_pair(fps[0], fps[0])
            p = np.asarray([10 ** null.log10_p(s) for s in scores])
            cells = " | ".join(f"{float((p < a).mean()):.3f}" for a in ALPHAS)
            two = stats.kstest(p, "uniform").pvalue
            small = stats.kstest(p, "uniform", alternative="greater").pvalue
            print(
                f"| {arch} | {name} | {null.n_pairs} | "
                f"{len(p)} | {cells} | {two:.3f} | {small:.3f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
