"""Lineage detection on the tiny-model zoo: ROC AUC and TPR at low FPR, per transformation.

Six independent Llama bases (seeds 0-5, alternating training data) with 19 derivatives
each (every transformation of the lineage issue, alone and combined, plus a merge with
the next base that counts as a derivative of both). Positive pairs: (base, derivative of
it). Negative pairs: (base, anything not derived from it) — the other bases are the
same-recipe, different-seed hard negatives. The null used for p-values was fitted on a
disjoint population (seeds 100-105 and 200-223, ``calibrate.py``). Baseline: cosine similarity of
all same-name, same-shape weight tensors.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from weightwatch.artifacts import open_artifact
from weightwatch.fingerprint import fingerprint
from weightwatch.fingerprint.layout import layout_of
from weightwatch.lineage import compare
from weightwatch.testing.lineage_zoo import TRANSFORMS, build_zoo

SEEDS = (0, 1, 2, 3, 4, 5)


def weights_cosine(a_path, b_path) -> float:
    """The naive baseline: one cosine over every tensor both models have by name and shape."""
    a, b = layout_of(open_artifact(a_path)), layout_of(open_artifact(b_path))
    dot = na = nb = 0.0
    for name, ta in a.tensors.items():
        tb = b.tensors.get(name)
        if tb is None or tb.shape != ta.shape:
            continue
        x, y = (
            ta.to_float32().ravel().astype(np.float64),
            tb.to_float32().ravel().astype(np.float64),
        )
        dot, na, nb = dot + float(x @ y), na + float(x @ x), nb + float(y @ y)
    return dot / np.sqrt(na * nb) if na > 0 and nb > 0 else 0.0


def auc(pos: list[float], neg: list[float]) -> float:
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def tpr_at(pos: list[float], neg: list[float], fpr: float) -> float:
    """Largest TPR with at most ``fpr`` of negatives at or above the threshold."""
    neg_sorted = np.sort(neg)[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    thr = neg_sorted[allowed] if allowed < len(neg) else -np.inf  # strictly above this
    return float(np.mean(np.asarray(pos) > thr))


def main() -> int:
    zoo = build_zoo(SEEDS)
    fps = [fingerprint(m.path) for m in zoo]
    bases = [i for i, m in enumerate(zoo) if m.transform == "base"]
    ours: dict[str, list[float]] = defaultdict(list)
    base_cos: dict[str, list[float]] = defaultdict(list)
    neg_ours, neg_cos, neg_p = [], [], []
    for k, b in enumerate(bases):
        for j, m in enumerate(zoo):
            if j == b:
                continue
            c = compare(fps[b], fps[j])
            cos = weights_cosine(zoo[b].path, m.path)
            if k in m.parents:
                ours[m.transform].append(c.score)
                base_cos[m.transform].append(cos)
            else:
                neg_ours.append(c.score)
                neg_cos.append(cos)
                neg_p.append(c.p_value)
    all_ours = [s for v in ours.values() for s in v]
    all_cos = [s for v in base_cos.values() for s in v]
    print("### Lineage: detection on the tiny-model zoo\n")
    print(
        f"{len(SEEDS)} independent tiny Llama bases (seeds {SEEDS[0]}-{SEEDS[-1]}, alternating "
        f"training data), {len(all_ours)} base-derivative pairs, {len(neg_ours)} unrelated pairs "
        "(other bases, their derivatives). TPR at FPR 0.1% is taken above the highest unrelated "
        "score when fewer than 1,000 unrelated pairs exist (i.e. at FPR 0). Baseline: cosine of "
        "all same-name, same-shape weight tensors.\n"
    )
    print(
        "| transformation | pairs | weightwatch min score | weightwatch TPR @1% FPR | weightwatch TPR @0.1% FPR | cosine baseline min | baseline TPR @1% FPR |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in TRANSFORMS:
        if t not in ours:
            continue
        print(
            f"| {t} | {len(ours[t])} | {min(ours[t]):.3f} | {tpr_at(ours[t], neg_ours, 0.01):.2f} | "
            f"{tpr_at(ours[t], neg_ours, 0.001):.2f} | {min(base_cos[t]):.3f} | "
            f"{tpr_at(base_cos[t], neg_cos, 0.01):.2f} |"
        )
    print(
        f"| **all** | {len(all_ours)} | {min(all_ours):.3f} | {tpr_at(all_ours, neg_ours, 0.01):.3f} | "
        f"{tpr_at(all_ours, neg_ours, 0.001):.3f} | {min(all_cos):.3f} | {tpr_at(all_cos, neg_cos, 0.01):.3f} |"
    )
    print(
        f"\nROC AUC over all pairs: weightwatch **{auc(all_ours, neg_ours):.4f}**, cosine baseline "
        f"{auc(all_cos, neg_cos):.4f}. Highest unrelated score: weightwatch {max(neg_ours):.3f} "
        f"(lowest derivative {min(all_ours):.3f}); baseline {max(neg_cos):.3f} (lowest derivative "
        f"{min(all_cos):.3f}).\n"
    )
    print(
        "Calibration of p-values over the unrelated pairs (null fitted on disjoint seeds 100-105 and 200-223, `calibrate.py`):\n"
    )
    print("| alpha | fraction of unrelated pairs with p < alpha |")
    print("|---:|---:|")
    for alpha in (0.1, 0.05, 0.01, 0.001):
        print(f"| {alpha} | {np.mean(np.asarray(neg_p) < alpha):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
