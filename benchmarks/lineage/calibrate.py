"""Fit the shipped null (what unrelated models score) from tiny-model populations.

Calibration uses seeds 100-105, disjoint from the evaluation's bases (seeds 0-5), so the
evaluation measures how well the null transfers. Writes ``src/weightwatch/lineage/null.json``.
Run: ``.venv/bin/python benchmarks/lineage/calibrate.py``; WW_CALIBRATE=qwen2,gpt2 (any of
llama, qwen2, gpt2) re-fits only those populations' classes and keeps the others as the
shipped file has them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from weightwatch.fingerprint import fingerprint
from weightwatch.lineage.relation import Null, Nulls, compare, model_class
from weightwatch.testing.lineage_zoo import build_population, build_zoo

SEEDS = (100, 101, 102, 103, 104, 105)
# Pairs of one pair of bases are strongly dependent (a derivative is nearly its base), so
# the tail is only as well sampled as the number of independent bases: add many cheap ones.
LLAMA_SEEDS = tuple(range(200, 224))
# The tied classes began with the 6 seeds alone (60 pairs: an exponential tail fitted to 6
# exceedances); 18 more bases each make 24, as for Llama.
TIED_SEEDS = SEEDS + tuple(range(200, 218))
ONLY = tuple(c for c in os.environ.get("WW_CALIBRATE", "").split(",") if c)
OUT = Path(__file__).resolve().parents[2] / "src" / "weightwatch" / "lineage" / "null.json"


def unrelated_scores(members: list, fps: list) -> list[float]:
    # A provisional null that calls nothing derived, so every pair gets its raw score.
    flat = Nulls({"any": Null(tuple(float(v) for v in range(-10, 0)), "none")})
    out = []
    for i, a in enumerate(members):
        if a.transform != "base":
            continue
        for j, b in enumerate(members):
            if i != j and not set(a.parents) & set(b.parents):
                out.append(compare(fps[i], fps[j], nulls=flat).score)
    return out


def main() -> int:
    by_class: dict[str, Null] = dict(Nulls.default().by_class) if ONLY else {}
    populations = {  # WW_CALIBRATE name -> (what the null's source says, population builders)
        "llama": (
            "llama zoo and population",
            [lambda: build_zoo(SEEDS), lambda: build_population("llama", LLAMA_SEEDS)],
        ),
        "qwen2": ("qwen2", [lambda: build_population("qwen2", TIED_SEEDS)]),
        "gpt2": ("gpt2", [lambda: build_population("gpt2", TIED_SEEDS)]),
    }
    for key, (name, builders) in populations.items():
        if ONLY and key not in ONLY:
            continue
        scores: list[float] = []
        cls = ""
        groups = [build() for build in builders]
        for members in groups:
            fps = [fingerprint(m.path) for m in members]
            cls = model_class(fps[0])
            scores += unrelated_scores(members, fps)
        seeds = ", ".join(f"{g[0].path.parent.name}.." for g in groups)
        by_class[cls] = Null.fit(scores, f"{len(scores)} unrelated pairs of tiny {name} models")
        print(
            f"{cls}: {by_class[cls].n_pairs} pairs, 99th percentile {by_class[cls].caution():.3f} ({seeds})"
        )
    OUT.write_text(json.dumps(Nulls(by_class).to_json(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
