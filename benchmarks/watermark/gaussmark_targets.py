"""GaussMark on more matrices, after a fine-tune and a LoRA merge (exploratory, 40 texts).

``python benchmarks/watermark/gaussmark_targets.py TARGETS SIGMA``, e.g.
``lm_head,down_proj,up_proj,gate_proj,o_proj,v_proj 0.6``: marks every matching matrix of
the tiny Llama (one combined psi over all of them), then prints TPR at FPR 1e-3 on 40
texts of 200 tokens from the marked model, after a 200-step fine-tune at lr 1e-4 and after
a merged LoRA (the durability table's rows), and the perplexity ratio on human text.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from pathlib import Path

import numpy as np
import torch

from weightwatch.testing import build_family, derive
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightio import embed_folder, load_reference, log_likelihood_gradient


def main() -> None:
    torch.set_num_threads(1)
    fam = build_family(arch="llama")
    master = MasterSecret(bytes(range(32)))
    key = master.derive("release", scheme="gaussmark")
    targets = sys.argv[1].split(",")
    sigma = float(sys.argv[2])
    s = GaussMark.from_params(sigma=sigma, targets=targets)
    work = Path(tempfile.mkdtemp())
    embed_folder(fam.base, work / "m", scheme=s, key=key)
    model, tok = load_model(work / "m")
    ref = load_reference(fam.base, scheme=s)
    base, _ = load_model(fam.base)
    print(targets, sigma, "names", len(ref.names), flush=True)

    def tpr(m: Any, name: str) -> None:
        texts = ev.sample(m, 40, seed=5)
        g = [log_likelihood_gradient(ref, t.tolist()) for t in texts]
        psi = s.statistics(g, ref.stds, [key])[:, 0]
        print(
            name,
            "TPR@1e-3",
            np.mean([z_p_value(float(x))[0] <= 1e-3 for x in psi]),
            "median psi",
            round(float(np.median(psi)), 2),
            flush=True,
        )

    tpr(model, "unmodified")
    tpr(derive.finetune(model, tok, steps=200, lr=1e-4, domain="b"), "ft200@1e-4")
    tpr(derive.lora_merged(model, tok, steps=200, domain="b"), "lora")
    held = ev.human_texts(tok, 100, skip=2000)
    print("ppl ratio", ev.ratio_interval(ev.mean_nll(model, held) - ev.mean_nll(base, held)))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
