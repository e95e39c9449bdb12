"""Why GaussMark's text signal fades after fine-tuning, measured on the real SmolLM2-135M
(``make watermark-durability-mechanism-real``).

The tiny-model measurement (``durability_mechanism.py``) found the mark still in the
weights after the fine-tune and blamed the moved hidden states. This script asks the same
question of the real model, with the table's own recipe (GaussMark sigma 0.07 on the tied
embedding; 20 AdamW steps of 8 x 64 tokens of licence text at lr 5e-5, seed 1), and
splits the statistic's numerator so the loss can be located.

For a text ``y`` and the detector's reference (the unmarked original, hidden states ``h``
and next-token distribution ``p``), ``psi = <z, G> / |G|`` with numerator
``sum_t z_{y_t}.h_t - E_p[z.h_t]``. Given the generator's distribution ``g`` (the marked
copy, fine-tuned or not) and the same model without the mark ``r`` (the unmarked original,
or the unmarked original put through the *same* fine-tune), the numerator is exactly

    noise  sum_t z_{y_t}.h_t - E_g[z.h_t]    (mean 0: y_t is drawn from g)
  + tilt   sum_t E_g[z.h_t] - E_r[z.h_t]     (what the mark does to the generator)
  + shift  sum_t E_r[z.h_t] - E_p[z.h_t]     (what the fine-tune does; mean 0 over keys)

and the tilt is compared with the one the generator would have if the mark were the only
difference between it and ``r`` (``r``'s logits plus ``xi h`` at the generator's own hidden
states): the gap is what the rest of the network does against the mark.

Also measured: the share of the mark left in the output matrix
(``<W_marked_ft - W_unmarked_ft, xi> / |xi|^2``), how far the hidden states moved, the
generator's entropy, and a detector variant that drops (or keeps only) the mean
direction of the hidden states — a test of the idea that the fine-tune's shift of token
frequencies, which acts through that direction, is what hides the mark (it is not).

WW_MECH_TEXTS texts of 200 tokens per generator (default 40); figures go to
durability_mechanism_real.json.
"""

from __future__ import annotations

import copy
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
from weightwatch.testing.real_models import default_cache
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightio import embed_folder

N = int(os.environ.get("WW_MECH_TEXTS", "40"))
SIGMA = 0.07  # the real table's sigma (durability_real_200.json)
FT_STEPS, FT_LR = 20, 5e-5  # the real table's fine-tune
WORK = Path(os.environ.get("WW_REAL_WORK", "/tmp/ww-wm-real"))
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = Path(__file__).resolve().parent / "durability_mechanism_real.json"
Z_1E3 = 3.090232  # one-sided N(0, 1) quantile at 1e-3


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def batch_ids(texts: list[Any], bos: int) -> Any:
    return torch.from_numpy(np.stack([np.concatenate([[bos], t]) for t in texts]))


def forward(model: Any, ids: Any) -> tuple[Any, Any]:
    """Final hidden states (what the output matrix reads) and next-token distributions."""
    with torch.no_grad():
        h = model.get_decoder()(input_ids=ids).last_hidden_state[:, :-1].float()
        p = torch.softmax(h @ model.get_output_embeddings().weight.float().T, dim=-1)
    return h, p


class Detector:
    """The one-pass statistic at the unmarked original, split into its parts, plus the
    variants on the hidden states' mean direction ``u`` (taken from human text, so
    independent of the key: each variant is exactly N(0, 1) under the null too)."""

    def __init__(self, base: Any, z: Any, std: float, u: Any, bos: int) -> None:
        self.base, self.z, self.std, self.u, self.bos = base, z, std, u, bos

    def parts(self, texts: list[Any], gen: Any, ref: Any) -> dict[str, Any]:
        rows: dict[str, list[Any]] = {}
        for lo in range(0, len(texts), 4):
            ids = batch_ids(texts[lo : lo + 4], self.bos)
            h, p = forward(self.base, ids)
            hg, g = forward(gen, ids)
            _, r = forward(ref, ids)
            with torch.no_grad():
                zh = h @ self.z.T
                at = zh.gather(-1, ids[:, 1:, None])[..., 0]
                eg, er_, ep = (g * zh).sum(-1), (r * zh).sum(-1), (p * zh).sum(-1)
                # the generator the mark alone would make of ``ref``: its logits plus the
                # mark's own term at the generator's hidden states (nothing compensating)
                xi_h = (hg @ self.z.T) * self.std
                intact = torch.softmax(torch.log(r.clamp(min=1e-30)) + xi_h, dim=-1)
                e_intact = (intact * zh).sum(-1)
                a = -p
                a.scatter_add_(
                    -1, ids[:, 1:, None], torch.ones_like(ids[:, 1:, None], dtype=a.dtype)
                )
                gram_a = a @ a.transpose(1, 2)
                psis, dens = [], []
                for hh in (
                    h,
                    h - (h @ self.u)[..., None] * self.u,
                    (h @ self.u)[..., None] * self.u,
                ):
                    num = (a * (hh @ self.z.T)).sum(dim=(1, 2)).double()
                    den = (gram_a * (hh @ hh.transpose(1, 2))).sum(dim=(1, 2)).double().sqrt()
                    psis.append(num / den)
                    dens.append(den)
                logg = torch.log(g.clamp(min=1e-30))
                part = {
                    "noise": (at - eg).sum(-1),
                    "tilt": (eg - er_).sum(-1),
                    "tilt_if_only_the_mark_acted": (e_intact - er_).sum(-1),
                    "shift": (er_ - ep).sum(-1),
                    "denominator": dens[0],
                    "psi": psis[0],
                    "psi_without_mean_direction": psis[1],
                    "psi_mean_direction_only": psis[2],
                    "generator_entropy": -(g * logg).sum(-1).mean(-1),
                    "hidden_kept": ((h * hg).sum(-1) / (h * h).sum(-1)).mean(-1),
                }
            for k, v in part.items():
                rows.setdefault(k, []).append(v.double().numpy())
        out: dict[str, Any] = {k: float(np.concatenate(v).mean()) for k, v in rows.items()}
        for k in ("psi", "psi_without_mean_direction", "psi_mean_direction_only"):
            out[f"tpr_{k}"] = float((np.concatenate(rows[k]) > Z_1E3).mean())
        out["n"] = len(texts)
        return out


def main() -> None:
    torch.set_num_threads(int(os.environ.get("WW_REAL_THREADS", "2")))
    t_start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    orig = er.gguf_to_folder(default_cache() / GGUF, WORK / "smollm2-f32")
    base, tok = load_model(orig)
    bos = int(tok.bos_token_id)
    key = MasterSecret(bytes(range(32))).derive("release", scheme="gaussmark")
    scheme = GaussMark.from_params(sigma=SIGMA)
    marked_dir = WORK / f"marked-{SIGMA}"
    if not (marked_dir / "weightwatch-watermark.json").is_file():
        embed_folder(orig, marked_dir, scheme=scheme, key=key)
    name = "model.embed_tokens.weight"
    w0 = base.get_output_embeddings().weight.detach().float().clone()
    z = torch.from_numpy(scheme.unit_noise(key, name, tuple(w0.shape)))
    human = ev.human_texts(tok, 32, skip=1500)
    h_human, _ = forward(base, batch_ids(human, bos))
    u = h_human.reshape(-1, h_human.shape[-1]).mean(0)
    res: dict[str, Any] = {
        "model": GGUF,
        "sigma": SIGMA,
        "ft": f"{FT_STEPS} AdamW steps of 8 x 64 tokens of licence text, lr {FT_LR:g}, seed 1",
        "texts_per_generator": N,
        "started": t_start,
        "hidden_mean_norm_over_mean_norm": float(
            u.norm() / h_human.reshape(-1, h_human.shape[-1]).norm(dim=-1).mean()
        ),
    }
    u = u / u.norm()
    marked, _ = load_model(marked_dir)
    xi = marked.get_output_embeddings().weight.detach().float() - w0
    t0 = time.perf_counter()
    ft_marked = er.finetune_in_place(copy.deepcopy(marked), tok, steps=FT_STEPS, lr=FT_LR, seed=1)
    ft_plain = er.finetune_in_place(copy.deepcopy(base), tok, steps=FT_STEPS, lr=FT_LR, seed=1)
    log(f"two fine-tunes: {time.perf_counter() - t0:.0f} s")
    d_marked = ft_marked.get_output_embeddings().weight.detach().float()
    d_plain = ft_plain.get_output_embeddings().weight.detach().float()
    moved = d_plain - w0
    res["weights"] = {
        "xi_std_over_rms": float(xi.std() / w0.square().mean().sqrt()),
        "mark_left_in_output_matrix": float(((d_marked - d_plain) * xi).sum() / xi.square().sum()),
        "fine_tune_step_mean_abs_over_xi_std": float(moved.abs().mean() / xi.std()),
        "cos_fine_tune_step_xi": float((moved * xi).sum() / (moved.norm() * xi.norm())),
    }
    log(f"weights {res['weights']}")
    h_plain_human, _ = forward(ft_plain, batch_ids(human, bos))
    res["hidden_kept_unmarked_ft_on_human_text"] = float(
        ((h_human * h_plain_human).sum(-1) / h_human.square().sum(-1)).mean()
    )
    record = json.loads((marked_dir / "weightwatch-watermark.json").read_text())
    det = Detector(base, z, float(record["tensors"][0]["std"]), u, bos)
    for label, gen, ref, seed in (
        ("unmodified", marked, base, 101),
        ("fine-tuned", ft_marked, ft_plain, 102),
        ("unmarked original (null)", base, base, 104),
        ("unmarked, fine-tuned (null)", ft_plain, ft_plain, 103),
    ):
        t0 = time.perf_counter()
        texts = ev.sample(gen, N, seed=seed, batch=N, bos=bos)
        res[label] = det.parts(texts, gen, ref)
        log(f"{label} ({time.perf_counter() - t0:.0f} s): {res[label]}")
        OUT.write_text(json.dumps(res, indent=2) + "\n")
    res["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    OUT.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
