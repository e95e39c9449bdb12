"""Real fine-tunes of SmolLM2-135M and what lineage says about them.

For each recipe (``testing.real_finetune``: ``test`` = the 24-step full and LoRA fine-tunes
the tests build, ``long`` = 200 steps each), the fine-tune is built (cached), fingerprinted
and compared with SmolLM2 (its base), Gemma 3 270M and all-MiniLM-L6-v2; one Markdown row
per fine-tune: CPU cost, loss, how far the weights moved, the verdict's log10 p, the fitted
and shared-units log10 p, the relation, and the verdicts against the two unrelated models.

Run: ``.venv/bin/python benchmarks/lineage/real_derivatives.py [test|long ...]`` (``make
real-finetune`` runs ``long``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import compare
from weightwatch.testing import real_finetune as rf
from weightwatch.testing.real_models import fetch

RECIPES = {"test": (rf.TEST_FULL, rf.TEST_LORA), "long": (rf.LONG_FULL, rf.LONG_LORA)}
NAMES = ("smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m", "all-minilm-l6-v2")


def moved(base: Path, child: Path) -> float:
    """Relative Frobenius change of every block matrix, pooled."""
    from safetensors.numpy import load_file

    from weightwatch.artifacts import open_artifact

    c = load_file(str(child / "model.safetensors"))
    num = den = 0.0
    for t in open_artifact(base).iter_tensors():
        if not t.name.startswith("blk.") or len(t.shape) != 2:
            continue
        layer, rest = t.name.split(".")[1], ".".join(t.name.split(".")[2:-1])
        hf = {
            "attn_q": "self_attn.q_proj",
            "attn_k": "self_attn.k_proj",
            "attn_v": "self_attn.v_proj",
            "attn_output": "self_attn.o_proj",
            "ffn_gate": "mlp.gate_proj",
            "ffn_up": "mlp.up_proj",
            "ffn_down": "mlp.down_proj",
        }.get(rest)
        if hf is None or rest in ("attn_q", "attn_k"):  # llama.cpp permutes Q/K rows
            continue
        w = t.to_float32()
        d = c[f"model.layers.{layer}.{hf}.weight"] - w
        num += float(np.sum(d.astype(np.float64) ** 2))
        den += float(np.sum(w.astype(np.float64) ** 2))
    return float((num / den) ** 0.5)


def main(which: list[str]) -> int:
    got = fetch(names=list(NAMES))
    fps = {n: fingerprint(got[n]) for n in NAMES}
    print(
        "| fine-tune | steps | CPU s (load + train) | loss first 5 → last 5 | weights moved "
        "| log10 p | fitted | shared units | relation | vs Gemma 3 | vs MiniLM |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---|---|")
    for w in which:
        for recipe in RECIPES[w]:
            path = rf.build_finetune(got[NAMES[0]], recipe)
            rec = json.loads((path / "recipe.json").read_text())
            loss = rec["loss"]
            child = fingerprint(path)
            c = compare(fps[NAMES[0]], child)
            others = [compare(fps[n], child) for n in NAMES[1:]]
            blocks = f"{c.blocks.log10_p:.1f}" if c.blocks else "-"
            print(
                f"| {recipe.method} lr {recipe.lr:g} | {recipe.steps} | "
                f"{rec['cpu_s_load']:.0f} + {rec['cpu_s_train']:.0f} | "
                f"{np.mean(loss[:5]):.2f} → {np.mean(loss[-5:]):.2f} | "
                f"{moved(got[NAMES[0]], path):.2e} | {c.log10_p:.1f} | {c.log10_p_fitted:.1f} | "
                f"{blocks} | {c.relation} (score {c.score:.6f}) | "
                + " | ".join(f"{o.verdict} ({o.log10_p:.2f})" for o in others)
                + " |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["long"]))
