"""Calibration of lineage p-values on unrelated pairs: the population-free shared-units
test (``lineage.blocks``) beside the fitted null, plus the re-initialised-embedding forks
they must still link.

Populations: independently trained Llama bases (``testing.reinit.build_trained``), tiny
(hidden 128, 2 layers, 1,024-token BPE, 150 steps) and medium (hidden 256, 4 layers,
4,096-token BPE, 200 steps), none of them in the shipped null's sample; and, with
``real``, the real third-party models of ``make real-models`` (SmolLM2-135M, Gemma 3
270M, all-MiniLM-L6-v2: three pairs, too few for a KS test, listed one by one); and
``realtok``, trained mid-size models sharing SmolLM2's real 49,152-token tokenizer
(``testing.real_population.CALIBRATION``: 8 Llamas, hidden 128, 4 layers, 200 steps on
the shipped real text; 28 pairs), each also compared with SmolLM2 itself.

For each population every pair of bases is an unrelated pair; a valid p-value is uniform
there, which a Kolmogorov-Smirnov test checks (two-sided, and one-sided for "too small").
Three p-values per pair: the shared-units test; the shipped fitted null (``null.json``,
fitted on other tiny models); and the fitted null *re-fitted on this population* as a
registry would, held out: each pair's p comes from a null fitted on the pairs that share
neither of its models (needs at least 10 such pairs, so 7 bases or more).
Run: ``.venv/bin/python benchmarks/lineage/calibrate_blocks.py [tiny|medium|real|realtok ...]``.
"""

from __future__ import annotations

import itertools
import sys

from scipy import stats

from weightwatch.fingerprint import Fingerprint, fingerprint
from weightwatch.lineage import compare
from weightwatch.lineage.pvalue import Null
from weightwatch.testing.reinit import build_reinit, build_trained

SIZES = {
    "tiny": {"seeds": tuple(range(500, 508)), "steps": 150, "vocab_size": 1024},
    "medium": {"seeds": tuple(range(300, 306)), "steps": 200, "vocab_size": 4096},
}
REAL = ("smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m", "all-minilm-l6-v2")


def _ks(ps: list[float]) -> str:
    two = stats.kstest(ps, "uniform").pvalue
    one = stats.kstest(ps, "uniform", alternative="greater").pvalue
    return f"{two:.3f} | {one:.3f} | {min(ps):.3g}"


def population(size: str, fps: list[Fingerprint]) -> None:
    rows: dict[str, list[float]] = {"blocks": [], "fitted (shipped)": [], "verdict (both)": []}
    agree: list[int] = []  # units both matchings agree on, per layer (Poisson(1) expects 1)
    scores: dict[tuple[int, int], float] = {}
    derived = 0
    for (i, a), (j, b) in itertools.combinations(enumerate(fps), 2):
        c = compare(a, b)
        assert c.blocks is not None and c.log10_p_fitted is not None
        rows["blocks"].append(10**c.blocks.log10_p)
        agree.extend(c.blocks.agree)
        rows["fitted (shipped)"].append(10**c.log10_p_fitted)
        rows["verdict (both)"].append(10**c.log10_p)
        derived += c.verdict != "unrelated"
        scores[i, j] = c.score
    rest = {k: [v for q, v in scores.items() if not set(q) & set(k)] for k in scores}
    if min(len(v) for v in rest.values()) >= 10:
        rows["fitted (re-fitted, held out)"] = [
            10 ** Null.fit(rest[k], "held out").log10_p(s) for k, s in scores.items()
        ]
    for test, ps in rows.items():
        mean = f"{sum(agree) / len(agree):.2f}" if test == "blocks" else "-"
        print(f"| {size} ({len(fps)} bases) | {len(ps)} | {test} | {_ks(ps)} | {mean} |")
    print(f"| {size} | | pairs called derived | {derived} of {len(scores)} | | | |")


def realtok() -> None:
    """The trained population sharing SmolLM2's tokenizer: KS rows, then each model
    against SmolLM2 (and SmolLM2 against each), one row per model."""
    from weightwatch.testing.real_models import fetch
    from weightwatch.testing.real_population import CALIBRATION, build_population

    smol = fetch(names=[REAL[0]])[REAL[0]]
    pop = build_population(smol, CALIBRATION)
    fps = [fingerprint(p) for p in pop.models]
    population("realtok", fps)
    base = fingerprint(smol)
    print()
    print(
        "| model (shares SmolLM2's tokenizer) | vs SmolLM2: log10 p | fitted | blocks | verdict |"
    )
    print("|---|---:|---:|---:|---|")
    for seed, fp in zip(CALIBRATION.seeds, fps, strict=True):
        for a, b, way in ((base, fp, "SmolLM2 -> model"), (fp, base, "model -> SmolLM2")):
            c = compare(a, b)
            t = c.blocks.log10_p if c.blocks else float("nan")
            print(
                f"| seed {seed} ({way}) | {c.log10_p:.2f} | {c.log10_p_fitted:.2f} | {t:.2f} "
                f"| {c.verdict} |"
            )


def main(sizes: list[str]) -> int:
    print(
        "| models | unrelated pairs | test | KS two-sided p | KS one-sided p | min p | mean agree |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    forks = []
    real: list[tuple[str, str, str]] = []
    for size in sizes:
        if size == "realtok":
            realtok()
            continue
        if size == "real":
            from weightwatch.testing.real_models import fetch

            got = fetch()
            fps = {name: fingerprint(got[name]) for name in REAL}
            for a, b in itertools.combinations(REAL, 2):
                c = compare(fps[a], fps[b])
                t = c.blocks
                real.append(
                    (
                        f"{a} / {b}",
                        f"{c.log10_p_fitted:.2f} | {t.log10_p if t else 0:.2f} | "
                        f"{t.agree if t else '-'}",
                        c.verdict,
                    )
                )
            continue
        spec = SIZES[size]
        trained = build_trained(size=size, **spec)  # type: ignore[arg-type]
        population(size, [fingerprint(p) for p in trained.bases])
        forks.append((size, trained.bases[0], build_reinit(trained.bases[0])))
    if real:
        print()
        print(
            "| real pair | fitted log10 p | blocks log10 p | units agreeing per layer | verdict |"
        )
        print("|---|---:|---:|---|---|")
        for pair, figures, verdict in real:
            print(f"| {pair} | {figures} | {verdict} |")
    if forks:
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
            c = compare(base, fingerprint(path))
            b = c.blocks
            print(
                f"| {size} | {name} | {c.log10_p_fitted:.1f} | {b.log10_p if b else 0:.1f} "
                f"| {b.agree if b else '-'} of {b.units if b else '-'} | {c.verdict} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["tiny", "medium", "real", "realtok"]))
