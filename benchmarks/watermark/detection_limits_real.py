"""How much of GaussMark *any* detector could find in SmolLM2's text
(``make watermark-detection-limits-real``).

GaussMark's measured TPR is one detector's. This asks what the texts themselves allow: for
each sigma, texts of 200 tokens sampled from the marked copy (as the durability run samples
them: temperature 1 from BOS, no processor) are scored by both the marked copy and the
unmarked original, giving each text's log-likelihood ratio and the chain-rule KL divergence
of the whole text. ``testing.detection_limits`` turns them into bounds that hold for every
test whose false-positive rate on the original's own texts is at most alpha — including the
likelihood-ratio test that knows the marked weights exactly:

- the divergence bound ``d(power || alpha) <= KL``;
- the sharper likelihood-ratio bound ``min_t P(L > t) + alpha e^t``, and the power the
  likelihood-ratio test at ``log(1/alpha)`` achieves (a valid test, so an achievable figure).

After the real table's fine-tune (20 AdamW steps, lr 5e-5, licence text, seed 1) the same is
measured between the fine-tuned marked copy and the unmarked original put through the same
fine-tune: what is left of the mark in the text, for a detector that even knew the fine-tune.

Texts come from the durability run's folder (WW_REAL_WORK, default /tmp/ww-wm-real) where it
kept them for that sigma (the first WW_LIMITS_TEXTS), else are sampled here (seed 100, the
durability run's seed for the unmodified row) and kept in its ``texts-limits`` folder.
Figures go to detection_limits_real.json; GaussMark's own TPR at each sigma is read from
durability_real_tradeoff.json for the comparison.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from weightwatch.testing import wm_eval as ev
from weightwatch.testing import wm_eval_real as er
from weightwatch.testing.detection_limits import likelihood_ratio_power, max_power_from_kl
from weightwatch.testing.real_models import default_cache
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightio import embed_folder

N = int(os.environ.get("WW_LIMITS_TEXTS", "100"))
SIGMAS = tuple(
    float(s) for s in os.environ.get("WW_LIMITS_SIGMAS", "0.04,0.05,0.07,0.1,0.14").split(",") if s
)
FT_SIGMAS = tuple(float(s) for s in os.environ.get("WW_LIMITS_FT", "0.07,0.14").split(",") if s)
THREADS = int(os.environ.get("WW_LIMITS_THREADS", "2"))
WORK = Path(os.environ.get("WW_REAL_WORK", "/tmp/ww-wm-real"))
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
FT_CELL = er.finetune_cell(20, 5e-5)  # the real table's fine-tune
ALPHAS = (1e-3, 1e-2)
HERE = Path(__file__).resolve().parent
OUT = HERE / "detection_limits_real.json"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stem(cell: str, sigma: float) -> str:
    return er.texts_file_stem(er.texts_name(cell, sigma))


def kept_texts(cell: str, sigma: float) -> list[Any] | None:
    """The durability run's texts for this cell and sigma, if it kept at least N."""
    for folder in (WORK / "texts", WORK / "texts-limits"):
        for path in sorted(folder.glob(f"{stem(cell, sigma)}-*.npy")):
            have = np.load(path)
            if have.shape[0] >= N:
                return list(have[:N])
    return None


def texts_of(cell: str, sigma: float, build: Any, bos: int) -> list[Any]:
    kept = kept_texts(cell, sigma)
    if kept is not None:
        return kept
    t0 = time.perf_counter()
    texts = ev.sample(build(), N, seed=100, batch=N, bos=bos)
    out = WORK / "texts-limits"
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"{stem(cell, sigma)}-{N}.npy", np.stack(texts))
    log(f"{cell} sigma {sigma}: sampled {N} texts in {time.perf_counter() - t0:.0f} s")
    return texts


def limits(marked: Any, reference: Any, texts: list[Any], bos: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    ratio, kl = er.log_ratio_and_kl(marked, reference, texts, bos=bos)
    mean_kl = float(kl.mean())
    se = float(kl.std(ddof=1) / np.sqrt(kl.size))
    row: dict[str, Any] = {
        "texts": int(kl.size),
        "kl_per_text": mean_kl,
        "kl_per_text_ci": [mean_kl - 1.96 * se, mean_kl + 1.96 * se],
        "kl_per_token": mean_kl / len(texts[0]),
        "mean_log_ratio": float(ratio.mean()),
        "seconds": time.perf_counter() - t0,
        "log_ratios": [round(float(x), 4) for x in ratio],
        "kl_per_text_values": [round(float(x), 4) for x in kl],
    }
    for alpha in ALPHAS:
        achievable, upper, t = likelihood_ratio_power(ratio, alpha)
        # the bound's one estimated term, P(L > t), at the top of its 95% Wilson interval
        above = int(np.sum(ratio > t))
        row[f"{alpha:g}"] = {
            "kl_bound": max_power_from_kl(mean_kl, alpha),
            "kl_bound_at_ci_top": max_power_from_kl(mean_kl + 1.96 * se, alpha),
            "lr_upper": upper,
            "lr_upper_t": t,
            "lr_upper_ci_top": min(1.0, er.wilson(above, ratio.size)[1] + alpha * np.exp(t)),
            "lr_test_power": achievable,
            "lr_test_power_ci": list(
                er.wilson(int(np.sum(ratio >= np.log(1 / alpha))), ratio.size)
            ),
        }
    return row


def gaussmark_measured() -> dict[str, Any]:
    """GaussMark's own TPR at 1e-3 per sigma, before and after the fine-tune, with each
    sigma's perplexity ratio: the trade-off cell's rows (200 texts each, 100 at 0.045)."""
    path = HERE / "durability_real_tradeoff.json"
    if not path.is_file():
        return {}
    rows: dict[str, Any] = json.loads(path.read_text()).get("tradeoff", {})
    return {
        s: {"tpr": r.get("tpr"), "tpr_ft": r.get("tpr_ft"), "ppl_ratio": r.get("ppl_ratio")}
        for s, r in rows.items()
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    orig = er.gguf_to_folder(default_cache() / GGUF, WORK / "smollm2-f32")
    original, tok = load_model(orig)
    bos = int(tok.bos_token_id)
    key = MasterSecret(bytes(range(32))).derive("release", scheme="gaussmark")
    res: dict[str, Any] = json.loads(OUT.read_text()) if OUT.is_file() else {}
    res.update({"model": GGUF, "tokens": 200, "alphas": list(ALPHAS), "threads": THREADS})
    res.setdefault("started", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    res["gaussmark_measured"] = gaussmark_measured()
    rows = res.setdefault("unmodified", {})
    ft_rows = res.setdefault("fine-tuned", {})
    tuned_original: Any = None
    for sigma in sorted(set(SIGMAS) | set(FT_SIGMAS)):
        marked = WORK / f"marked-{sigma}"
        if not (marked / "weightwatch-watermark.json").is_file():
            embed_folder(orig, marked, scheme=GaussMark.from_params(sigma=sigma), key=key)
        if sigma in SIGMAS and str(sigma) not in rows:
            model = load_model(marked)[0]
            texts = texts_of("unmodified", sigma, lambda m=model: m, bos)
            rows[str(sigma)] = limits(model, original, texts, bos)
            log(f"sigma {sigma}: {rows[str(sigma)]}")
            del model
            OUT.write_text(json.dumps(res, indent=2) + "\n")
        if sigma in FT_SIGMAS and str(sigma) not in ft_rows:
            if tuned_original is None:
                tuned_original = er.finetune_in_place(
                    load_model(orig)[0], tok, steps=20, lr=5e-5, seed=1
                )
            model = er.finetune_in_place(load_model(marked)[0], tok, steps=20, lr=5e-5, seed=1)
            texts = texts_of(FT_CELL, sigma, lambda m=model: m, bos)
            ft_rows[str(sigma)] = limits(model, tuned_original, texts, bos)
            log(f"sigma {sigma}, fine-tuned: {ft_rows[str(sigma)]}")
            del model
            OUT.write_text(json.dumps(res, indent=2) + "\n")
    res["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
