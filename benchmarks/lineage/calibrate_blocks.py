"""Calibration of lineage p-values on unrelated pairs: the population-free shared-units
test (``lineage.blocks``) beside the fitted null (``null.json``), plus the re-initialised-
embedding forks they must still link.

Populations: independently trained Llama bases (``testing.reinit.build_trained``), tiny
(hidden 128, 2 layers, 1,024-token BPE, 150 steps) and medium (hidden 256, 4 layers,
4,096-token BPE, 200 steps), none of them in the fitted null's sample. For each size,
every pair of bases is an unrelated pair; a valid p-value is uniform there, which a
Kolmogorov-Smirnov test checks (two-sided, and one-sided for "too small").
Run: ``.venv/bin/python benchmarks/lineage/calibrate_blocks.py [tiny|medium ...]``.
"""

from __future__ import annotations

import itertools
import sys

from scipy import stats

from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import compare
from weightwatch.testing.reinit import build_reinit, build_trained

SIZES = {
    "tiny": {"seeds": tuple(range(500, 508)), "steps": 150, "vocab_size": 1024},
    "medium": {"seeds": tuple(range(300, 306)), "steps": 200, "vocab_size": 4096},
}


def main(sizes: list[str]) -> int:
    print(
        "| models | unrelated pairs | test | KS two-sided p | KS one-sided p | min p | mean agree |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    forks = []
    for size in sizes:
        spec = SIZES[size]
        trained = build_trained(size=size, **spec)  # type: ignore[arg-type]
        fps = [fingerprint(p) for p in trained.bases]
        rows: dict[str, list[float]] = {"blocks": [], "fitted": []}
        agree: list[int] = []  # units both matchings agree on, per layer (Poisson(1) expects 1)
        for a, b in itertools.combinations(fps, 2):
            c = compare(a, b, test="both")  # the block test is opt-in since it misfired
            assert c.blocks is not None and c.log10_p_fitted is not None
            rows["blocks"].append(10**c.blocks.log10_p)
            agree.extend(c.blocks.agree)
            rows["fitted"].append(10**c.log10_p_fitted)
        for test, ps in rows.items():
            two = stats.kstest(ps, "uniform").pvalue
            one = stats.kstest(ps, "uniform", alternative="greater").pvalue
            mean = f"{sum(agree) / len(agree):.2f}" if test == "blocks" and agree else "-"
            print(
                f"| {size} ({len(fps)} bases) | {len(ps)} | {test} | {two:.3f} | {one:.3f} "
                f"| {min(ps):.3g} | {mean} |"
            )
        forks.append((size, trained.bases[0], build_reinit(trained.bases[0])))
    print()
    print("| base | fork | fitted log10 p | blocks log10 p | units agreeing | verdict |")
    print("|---|---|---:|---:|---|---|")
    for size, base_dir, f in forks:
        base = fingerprint(base_dir)
        for name, path in (
            ("re-initialised embeddings", f.reinit),
            ("... after a rotation", f.reinit_rotated),
            ("unrelated, same new tokenizer", f.unrelated),
        ):
            c = compare(base, fingerprint(path), test="both")
            b = c.blocks
            print(
                f"| {size} | {name} | {c.log10_p_fitted:.1f} | {b.log10_p if b else 0:.1f} "
                f"| {b.agree if b else '-'} of {b.units if b else '-'} | {c.verdict} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["tiny", "medium"]))
