"""How many tokens the weight marks need after a fine-tune (part of ``make watermark-durability``).

The tiny Llama marked with GaussMark (sigma 0.6, ``lm_head``) and with the distillation
mark (defaults), each fine-tuned 200 steps at lr 1e-4 on unrelated text (the table's
first fine-tune row); WW_EVAL_LONG_TEXTS (100) texts per length sampled from BOS with no
processor; TPR at FPR 1e-3 by each mark's exact p-value, at 200, 400 and 800 tokens.
Prints Markdown and writes finetune_length.json beside this file.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from weightwatch.testing import build_family, derive
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightio import embed_folder, load_reference, log_likelihood_gradient

N = int(os.environ.get("WW_EVAL_LONG_TEXTS", "100"))
LENGTHS = (200, 400, 800)
ALPHA = 1e-3
HERE = Path(__file__).resolve().parent


def main() -> None:
    torch.set_num_threads(1)
    fam = build_family(arch="llama")
    master = MasterSecret(bytes(range(32)))
    gauss = GaussMark.from_params(sigma=0.6)
    dist = get_weight_scheme("distill")
    assert isinstance(dist, DistillMark)
    keys = {s: master.derive("release", scheme=s) for s in ("gaussmark", "distill")}
    ref = load_reference(fam.base, scheme=gauss)
    work = Path(tempfile.mkdtemp(prefix="ww-wm-length-"))
    out: dict[str, Any] = {"n": N}
    try:
        for name, scheme in (("gaussmark", gauss), ("distill", dist)):
            embed_folder(fam.base, work / name, scheme=scheme, key=keys[name])
            marked, tok = load_model(work / name)
            tuned = derive.finetune(marked, tok, steps=200, lr=1e-4, domain="b")
            for length in LENGTHS:
                texts = ev.sample(tuned, N, tokens=length, seed=400 + length)
                if name == "gaussmark":
                    grads = [log_likelihood_gradient(ref, t.tolist()) for t in texts]
                    psi = gauss.statistics(grads, ref.stds, [keys[name]])[:, 0]
                    p = np.asarray([z_p_value(float(x))[0] for x in psi])
                else:
                    p = np.asarray([detect_distilled(t, dist, keys[name]).p_value for t in texts])
                out[f"{name}/{length}"] = ev.tpr(p, ALPHA)
                print(
                    f"[{time.strftime('%H:%M:%S')}] {name} {length}: {out[f'{name}/{length}']}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (HERE / "finetune_length.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| tokens | GaussMark | distill |\n|---|---|---|")
    for length in LENGTHS:
        print(f"| {length} | {out[f'gaussmark/{length}']:.2f} | {out[f'distill/{length}']:.2f} |")


if __name__ == "__main__":
    main()
