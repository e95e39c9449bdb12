"""The durability table of every weight mark, side by side (``make watermark-durability``).

Tiny Llama (weightwatch.testing). One copy marked with GaussMark (sigma on ``lm_head``),
one with the distillation mark (``distill``: KGW green lists learned by logit
distillation); each copy goes through the downloader's edits of Gloaguen et al. (full
fine-tune, LoRA merged, int8/int4, GGUF Q8_0/Q4_0, 30% pruning, 50/50 merge with an
unmarked model) and two text attacks (30% random substitution; paraphrase by another
model: the tiny GPT-2, see ``wm_eval.paraphrase``). Per cell WW_EVAL_TEXTS (200) texts
of 200 tokens sampled from BOS at temperature 1 with no logits processor; TPR at FPR
1e-3 by each scheme's exact p-value. The sampling-time schemes (KGW, Gumbel with
context 4) are tested on the distilled copy's texts with their own keys: no processor
was used, so they fall to their false-positive rate. False positives: WW_EVAL_HUMAN
(2,000) pieces of CPython docstrings, KS test of the null p-values. Quality: held-out
human text, perplexity ratio with a 95% bootstrap interval and teacher-forced greedy
agreement, for each mark and a distill ``delta`` curve (WW_EVAL_DELTAS). WW_EVAL_DISTILL_STEPS (300) sets the distillation's steps.

Prints Markdown and writes the figures to durability_eval.json beside this file.
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
from scipy import stats  # type: ignore[import-untyped]

from weightwatch.testing import build_family
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret, detect, get_scheme, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightio import embed_folder, load_reference, log_likelihood_gradient

N = int(os.environ.get("WW_EVAL_TEXTS", "200"))
N_HUMAN = int(os.environ.get("WW_EVAL_HUMAN", "2000"))
FT_STEPS = int(os.environ.get("WW_EVAL_FT_STEPS", "200"))
SIGMA = float(os.environ.get("WW_EVAL_SIGMA", "0.6"))
DELTAS = tuple(float(d) for d in os.environ.get("WW_EVAL_DELTAS", "0.5,1.0").split(",") if d)
DISTILL_STEPS = int(os.environ.get("WW_EVAL_DISTILL_STEPS", "300"))
COPY_BIAS = float(os.environ.get("WW_EVAL_COPY_BIAS", "2.0"))
ALPHA = 1e-3
HERE = Path(__file__).resolve().parent
COLUMNS = ("gaussmark", "distill", "kgw", "gumbel")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def gauss_p(ref: Any, texts: list[Any], key: Any) -> np.ndarray:
    grads = [log_likelihood_gradient(ref, t.tolist()) for t in texts]
    psi = ref.scheme.statistics(grads, ref.stds, [key])[:, 0]
    return np.asarray([z_p_value(float(x))[0] for x in psi])


def distill_p(scheme: DistillMark, texts: list[Any], key: Any) -> np.ndarray:
    return np.asarray([detect_distilled(t, scheme, key).p_value for t in texts])


def sampling_p(name: str, texts: list[Any], key: Any, **params: Any) -> np.ndarray:
    scheme = get_scheme(name, **params)
    return np.asarray([detect(t, scheme=scheme, keys=key).p_value for t in texts])


def main() -> None:
    torch.set_num_threads(1)
    fam = build_family(arch="llama")
    paraphraser, _ = load_model(build_family(arch="gpt2").base)
    master = MasterSecret(bytes(range(32)))
    keys = {s: master.derive("release", scheme=s) for s in COLUMNS}
    work = Path(tempfile.mkdtemp(prefix="ww-wm-durability-"))
    res: dict[str, Any] = {"n": N, "n_human": N_HUMAN, "sigma": SIGMA, "ft_steps": FT_STEPS}
    try:
        gauss = GaussMark.from_params(sigma=SIGMA)
        dist = get_weight_scheme("distill", steps=DISTILL_STEPS)
        assert isinstance(dist, DistillMark)
        t0 = time.perf_counter()
        embed_folder(fam.base, work / "gaussmark", scheme=gauss, key=keys["gaussmark"])
        res["embed_seconds_gaussmark"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        embed_folder(fam.base, work / "distill", scheme=dist, key=keys["distill"])
        res["embed_seconds_distill"] = time.perf_counter() - t0
        res["distill_params"] = dist.describe()
        log(
            f"embedded: {res['embed_seconds_gaussmark']:.1f} s, {res['embed_seconds_distill']:.1f} s"
        )
        base, tok = load_model(fam.base)
        partner, _ = load_model(fam.finetune)  # unmarked, same lineage: the merge partner
        ref = load_reference(fam.base, scheme=gauss)
        vocab = int(base.config.vocab_size)

        def score(mark: str, texts: list[Any]) -> dict[str, float]:
            row = {}
            if mark == "gaussmark":
                row["gaussmark"] = ev.tpr(gauss_p(ref, texts, keys["gaussmark"]), ALPHA)
            else:
                row["distill"] = ev.tpr(distill_p(dist, texts, keys["distill"]), ALPHA)
                row["kgw"] = ev.tpr(sampling_p("kgw", texts, keys["kgw"]), ALPHA)
                row["gumbel"] = ev.tpr(
                    sampling_p("gumbel", texts, keys["gumbel"], context_width=4), ALPHA
                )
            return row

        rows: dict[str, dict[str, float]] = {}
        for mark in ("gaussmark", "distill"):
            marked, _ = load_model(work / mark)
            edits = ev.model_edits(marked, tok, partner, ft_steps=FT_STEPS)
            for i, (name, model) in enumerate(edits.items()):
                texts = ev.sample(model, N, seed=100 + i)
                rows.setdefault(name, {}).update(score(mark, texts))
                if name == "unmodified":
                    sub = ev.substitute(texts, fraction=0.3, vocab=vocab)
                    rows.setdefault("30% token substitution", {}).update(score(mark, sub))
                    para, changed = ev.paraphrase(texts, paraphraser, copy_bias=COPY_BIAS)
                    rows.setdefault("paraphrase (tiny GPT-2)", {}).update(score(mark, para))
                    res[f"paraphrase_changed_{mark}"] = changed
                log(f"{mark} / {name}: {rows[name]}")
            del edits
        original = ev.sample(base, N, seed=99)
        rows["original model (null)"] = {**score("gaussmark", original), **score("x", original)}
        res["durability"] = rows

        log("false positives")
        human = ev.human_texts(tok, N_HUMAN)
        p_h = {
            "gaussmark": gauss_p(ref, human, keys["gaussmark"]),
            "distill": distill_p(dist, human, keys["distill"]),
        }
        res["fpr"] = {
            m: {
                "at_1e-2": ev.tpr(p, 1e-2),
                "at_1e-3": ev.tpr(p, 1e-3),
                "ks_p": float(stats.kstest(p, "uniform").pvalue),
            }
            for m, p in p_h.items()
        }
        log(f"fpr {res['fpr']}")

        log("quality")
        held = ev.human_texts(tok, 200, skip=N_HUMAN)
        nll_base = ev.mean_nll(base, held)
        quality = []
        variants: list[tuple[str, Path, float | None]] = [
            ("gaussmark", work / "gaussmark", None),
            ("distill", work / "distill", dist.params.delta),
        ]
        for d in DELTAS:
            folder = work / f"distill-{d}"
            s = get_weight_scheme("distill", delta=d, steps=DISTILL_STEPS)
            embed_folder(fam.base, folder, scheme=s, key=keys["distill"])
            variants.append(("distill", folder, d))
        for mark, folder, delta in variants:
            m, _ = load_model(folder)
            entry: dict[str, Any] = {
                "mark": mark,
                "delta": delta,
                "ppl_ratio": ev.ratio_interval(ev.mean_nll(m, held) - nll_base),
                "greedy_agreement": float(ev.greedy_agreement(m, base, held).mean()),
            }
            if delta is not None and delta != dist.params.delta:
                s = get_weight_scheme("distill", delta=delta, steps=DISTILL_STEPS)
                assert isinstance(s, DistillMark)
                texts = ev.sample(m, N // 2, seed=7)
                entry["tpr_1e-3"] = ev.tpr(distill_p(s, texts, keys["distill"]), ALPHA)
            else:
                entry["tpr_1e-3"] = rows["unmodified"][mark]
            quality.append(entry)
            log(f"quality {entry}")
        res["quality"] = quality
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (HERE / "durability_eval.json").write_text(json.dumps(res, indent=2) + "\n")
    print(render(res))


def render(r: dict[str, Any]) -> str:
    out = [
        f"Tiny Llama; {r['n']} texts of 200 tokens per cell; TPR at FPR 1e-3 (exact p-values);"
        f" GaussMark sigma {r['sigma']} on lm_head; distill {r['distill_params']};"
        f" fine-tune {r['ft_steps']} steps. KGW and Gumbel: no processor used.",
        "",
        "| change | GaussMark | distill | KGW (no processor) | Gumbel (no processor) |",
        "|---|---|---|---|---|",
    ]
    for name, row in r["durability"].items():
        cells = [f"{row[c]:.3f}" if c in row else "—" for c in COLUMNS]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "| mark | FPR at 1e-2 | FPR at 1e-3 | KS p |", "|---|---|---|---|"]
    for mark, f in r["fpr"].items():
        out.append(f"| {mark} | {f['at_1e-2']:.4f} | {f['at_1e-3']:.4f} | {f['ks_p']:.3f} |")
    out += [
        "",
        "| mark | perplexity ratio (95% CI) | greedy agreement | TPR at 1e-3 |",
        "|---|---|---|---|",
    ]
    for q in r["quality"]:
        m, lo, hi = q["ppl_ratio"]
        label = q["mark"] + (f" delta {q['delta']}" if q["delta"] is not None else "")
        out.append(
            f"| {label} | {m:.4f} ({lo:.4f}–{hi:.4f}) | {q['greedy_agreement']:.3f} | "
            f"{q['tpr_1e-3']:.2f} |"
        )
    out += [
        "",
        f"Embedding: GaussMark {r['embed_seconds_gaussmark']:.1f} s, distill "
        f"{r['embed_seconds_distill']:.1f} s. Paraphrase changed "
        f"{r['paraphrase_changed_gaussmark']:.0%} / {r['paraphrase_changed_distill']:.0%} of tokens.",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
