"""A longer distillation against fine-tuning (``python benchmarks/watermark/distill_steps.py``).

The tiny Llama distilled with ``steps=N`` (argument, default 900; the scheme's default is
300), every other parameter at its default; then TPR at FPR 1e-3 on WW_EVAL_TEXTS (200)
texts of 200 tokens from the distilled copy unmodified, after the durability table's
full fine-tunes (200 steps at lr 1e-4; 10 steps at lr 1e-3) and its merged LoRA, with
the median green fraction; and the perplexity ratio on 100 held-out human texts.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from typing import Any

import numpy as np
import torch

from weightwatch.testing import build_family, derive
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.distill_train import distill
from weightwatch.watermark.generation import load_model

N = int(os.environ.get("WW_EVAL_TEXTS", "200"))


def main() -> None:
    torch.set_num_threads(1)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    fam = build_family(arch="llama")
    key = MasterSecret(bytes(range(32))).derive("release", scheme="distill")
    scheme = get_weight_scheme("distill", steps=steps)
    assert isinstance(scheme, DistillMark)
    model, tok = load_model(fam.base)
    t0 = time.perf_counter()
    losses = distill(model, scheme, key)
    print(
        f"steps {steps}: {time.perf_counter() - t0:.0f} s, final loss {np.mean(losses[-10:]):.4f}"
    )

    def row(m: Any, name: str) -> None:
        reports = [detect_distilled(t, scheme, key) for t in ev.sample(m, N, seed=5)]
        tpr = np.mean([r.p_value <= 1e-3 for r in reports])
        green = np.median([r.green_fraction or 0.0 for r in reports])
        print(f"| {name} | {tpr:.3f} | {green:.3f} |", flush=True)

    print(f"| {N} texts | TPR at 1e-3 | median green fraction |\n|---|---|---|")
    row(model, "unmodified")
    row(derive.finetune(model, tok, steps=200, lr=1e-4, domain="b"), "fine-tune 200 @ 1e-4")
    row(derive.finetune(model, tok, steps=10, lr=1e-3, domain="b"), "fine-tune 10 @ 1e-3")
    row(derive.lora_merged(model, tok, steps=200, domain="b"), "LoRA r=8 merged")
    base, _ = load_model(fam.base)
    held = ev.human_texts(tok, 100, skip=2000)
    m, lo, hi = ev.ratio_interval(ev.mean_nll(model, held) - ev.mean_nll(base, held))
    print(f"perplexity ratio {m:.4f} ({lo:.4f}-{hi:.4f})")


if __name__ == "__main__":
    main()
