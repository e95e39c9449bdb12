"""Tracing recipient copies (``make watermark-trace-eval``): 100 recipients of one model.

On the tiny Llama family: each of 100 recipients gets a copy of the base marked with their
own key (``watermark.recipients.mark_file``, what the registry serves), and texts of 200
tokens are sampled from each copy with no logits processor; a trace tests every text
against all 100 keys (exact max-over-m correction) and names a recipient only when the
adjusted p-value is at most alpha. 2,000 human texts (CPython docstrings) count wrong
accusations; a fine-tune of one copy on unrelated text is traced from its texts and from
its weights. Sizes from the environment: WW_TRACE_SIGMAS (0.6,0.8,1.0), WW_TRACE_PER (2
texts per recipient), WW_TRACE_HUMAN (2000), WW_EVAL_FT_STEPS (200; 0 skips the derivative), WW_TRACE_TOKENS
(200), WW_TRACE_OUT (recipients_eval.json). Prints Markdown and
writes the figures to recipients_eval.json next to this file.
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
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.recipients import TRACE_ALPHA, mark_file, marking_for
from weightwatch.watermark.weightdetect import adjust_max
from weightwatch.watermark.weightio import (
    load_reference,
    log_likelihood_gradient,
    tensor_shapes,
    weight_delta,
)

SIGMAS = tuple(float(s) for s in os.environ.get("WW_TRACE_SIGMAS", "0.6,0.8,1.0").split(","))
PER = int(os.environ.get("WW_TRACE_PER", "2"))
N_HUMAN = int(os.environ.get("WW_TRACE_HUMAN", "2000"))
FT_STEPS = int(os.environ.get("WW_EVAL_FT_STEPS", "200"))  # 0: no fine-tuned derivative
TOKENS = int(os.environ.get("WW_TRACE_TOKENS", "200"))
RECIPIENTS = 100
ALPHAS = (1e-3, TRACE_ALPHA)
HERE = Path(__file__).resolve().parent
WEIGHTS = "model.safetensors"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def psis(ref: Any, texts: list[Any], keys: list[Any], chunk: int = 50) -> np.ndarray:
    rows = []
    for i in range(0, len(texts), chunk):
        grads = [log_likelihood_gradient(ref, t.tolist()) for t in texts[i : i + chunk]]
        rows.append(ref.scheme.statistics(grads, ref.stds, keys))
    return np.concatenate(rows)


def adjusted(psi: np.ndarray) -> np.ndarray:
    """Exact p-value of each row's best key among all the keys."""
    m = psi.shape[1]
    return np.asarray([adjust_max(*z_p_value(float(x)), m)[0] for x in psi.max(axis=1)])


def verdicts(psi: np.ndarray, truth: np.ndarray | None) -> dict[str, dict[str, int]]:
    """Per alpha: how many rows name the right recipient, a wrong one, or no one."""
    p, top = adjusted(psi), psi.argmax(axis=1)
    out = {}
    for a in ALPHAS:
        named = p <= a
        right = int((named & (top == truth)).sum()) if truth is not None else 0
        out[f"{a:g}"] = {"right": right, "wrong": int(named.sum()) - right, "n": len(p)}
    return out


def copy_folder(base: Path, dest: Path, m: Any, key: Any) -> Path:
    dest.mkdir()
    for item in base.iterdir():
        if item.is_file() and item.name != WEIGHTS:
            shutil.copy2(item, dest / item.name)
    mark_file(
        base / WEIGHTS, dest / WEIGHTS, scheme=m.build_scheme(), key=key, names=m.files[WEIGHTS]
    )
    return dest


def main() -> None:
    torch.set_num_threads(1)
    fam = build_family(arch="llama")
    master = MasterSecret(bytes(range(32)))
    users = [f"user-{i:03d}" for i in range(RECIPIENTS)]
    work = Path(tempfile.mkdtemp(prefix="ww-trace-eval-"))
    results: dict[str, Any] = {
        "recipients": RECIPIENTS,
        "per": PER,
        "n_human": N_HUMAN,
        "tokens": TOKENS,
        "ft_steps": FT_STEPS,
    }
    shapes = {WEIGHTS: tensor_shapes(fam.base)}
    try:
        base, tok = load_model(fam.base)
        human = ev.human_texts(tok, N_HUMAN)
        held = ev.human_texts(tok, 200, skip=N_HUMAN)  # held-out text for the quality cost
        nll_base = ev.mean_nll(base, held)
        for sigma in SIGMAS:
            m = marking_for(master, "acme/model@1", shapes, sigma=sigma)
            keys = [m.key(master, u) for u in users]
            ref = load_reference(fam.base, scheme=m.build_scheme())
            row: dict[str, Any] = {"sigma": sigma}
            if sigma == SIGMAS[0]:  # psi under the null does not depend on sigma
                results["human"] = verdicts(psis(ref, human, keys), None)
                log(f"human {results['human']}")
            texts, truth = [], []
            for i, _user in enumerate(users):
                folder = copy_folder(fam.base, work / f"copy-{i}", m, keys[i])
                model, _ = load_model(folder)
                texts += ev.sample(model, PER, tokens=TOKENS, seed=1000 + i)
                truth += [i] * PER
                if i == 0:
                    row["ppl_ratio"] = ev.ratio_interval(ev.mean_nll(model, held) - nll_base)
                if i == 0 and FT_STEPS > 0:
                    derived = derive.finetune(model, tok, steps=FT_STEPS, lr=1e-4, domain="b")
                    derived.save_pretrained(work / "derived")
                    d = np.asarray(
                        ref.scheme.statistic(weight_delta(ref, work / "derived"), ref.stds, keys)
                    )
                    row["derivative_weights"] = {
                        "named_right": int(d.argmax()) == 0,
                        "log10_p": adjust_max(*z_p_value(float(d.max())), RECIPIENTS)[1],
                        "runner_up_psi": float(np.sort(d)[-2]),
                    }
                    dt = ev.sample(derived, 50, seed=300)
                    row["derivative_text"] = verdicts(psis(ref, dt, keys), np.zeros(50, dtype=int))
                    shutil.rmtree(work / "derived")
                shutil.rmtree(folder)
            t = psis(ref, texts, keys)
            row["copies"] = verdicts(t, np.asarray(truth))
            row["median_best_psi"] = float(np.median(t.max(axis=1)))
            log(f"sigma {sigma}: {row}")
            results.setdefault("rows", []).append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (HERE / os.environ.get("WW_TRACE_OUT", "recipients_eval.json")).write_text(
        json.dumps(results, indent=2) + "\n"
    )
    print(render(results))


def render(r: dict[str, Any]) -> str:
    a = f"{TRACE_ALPHA:g}"
    h = r["human"]
    out = [
        f"Tracing among {r['recipients']} recipients, tiny Llama, {r['tokens']}-token texts, "
        f"{r['per']} per recipient; wrong accusations over {r['n_human']} human texts: "
        f"{h['0.001']['wrong']} at 1e-3, {h[a]['wrong']} at {a}.",
        "",
        f"| sigma | perplexity ratio (95% CI) | named right at {a} | wrong | right at 1e-3 | "
        f"wrong | fine-tune ({FT_STEPS} steps) texts, right at {a} | fine-tune weights |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        c = row["copies"]
        q = row.get("ppl_ratio")
        ppl = f"{q[0]:.3f} ({q[1]:.3f}–{q[2]:.3f})" if q else "—"
        d, w = row.get("derivative_text"), row.get("derivative_weights")
        dt = f"{d[a]['right']}/{d[a]['n']} (wrong {d[a]['wrong']})" if d else "—"
        dw = f"{'right' if w['named_right'] else 'WRONG'}, log10 p {w['log10_p']:.0f}" if w else "—"
        out.append(
            f"| {row['sigma']} | {ppl} | {c[a]['right']}/{c[a]['n']} | {c[a]['wrong']} | "
            f"{c['0.001']['right']}/{c['0.001']['n']} | {c['0.001']['wrong']} | {dt} | {dw} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    main()
