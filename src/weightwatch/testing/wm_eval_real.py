"""Weight watermarks on a real model: the pieces the real-model durability run shares.

The real model is SmolLM2-135M-Instruct from its Q4_1 GGUF (data/real-models), loaded
by transformers' GGUF reader, dequantized to float32 and written as a plain safetensors
folder with its real tokenizer (``gguf_to_folder``): that folder is the "original" the
mark is embedded into. Nothing in the GGUF is executed; transformers only reads tensors
and the tokenizer's vocabulary from it.

Everything else is what the tiny-model evaluation uses (``wm_eval``), in forms that keep
one 135M model's copies within ~3 GiB on two cores: a full fine-tune in place, one
forward pass per text for both perplexity and greedy agreement, and the choice of
``sigma`` by the per-token KL divergence it costs on held-out human text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.testing.wm_eval import I64

F64 = npt.NDArray[np.float64]


# The sigma the pilot chose for the real table (benchmarks/watermark/durability_real_200.json).
# A GaussMark cell's texts at any other sigma carry it in their name ("unmodified, sigma
# 0.14"), so one work folder never serves one mark's texts as another's.
TABLE_SIGMA = 0.07
NULL_CELL = "unmarked model (null)"


def finetune_cell(steps: int, lr: float) -> str:
    """The real table's name for its full fine-tune row."""
    return f"full fine-tune {steps} steps, lr {lr:g}, licence text"


def texts_name(cell: str, sigma: float | None) -> str:
    """The name a cell's generated texts are kept under, for a GaussMark copy of ``sigma``
    (None: another mark); the unmarked model's texts serve every sigma."""
    if sigma is None or sigma == TABLE_SIGMA or cell == NULL_CELL:
        return cell
    return f"{cell}, sigma {sigma}"


def texts_file_stem(name: str) -> str:
    """``texts_name`` as a file name (kept texts are ``<stem>-<count>.npy``)."""
    return name.replace("/", "-").replace(" ", "_")


def gguf_to_folder(gguf: Path, out: Path) -> Path:
    """A float32 safetensors folder (config, weights, tokenizer) from a GGUF file; cached."""
    import torch
    import transformers

    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    transformers.utils.logging.disable_progress_bar()
    kw = {"gguf_file": gguf.name}
    tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, **kw)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        gguf.parent, dtype=torch.float32, **kw
    )
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")  # dequantized: a plain float32 model now
    plain = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    del model
    tmp = out.with_name(out.name + ".tmp")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "SOURCE.json").write_text(json.dumps({"gguf": gguf.name, "dtype": "float32"}) + "\n")
    tmp.rename(out)
    return out


def finetune_in_place(model: Any, tokenizer: Any, *, steps: int, lr: float, seed: int) -> Any:
    """Full fine-tune (AdamW, every parameter) on the licence-text corpus, in place."""
    import torch

    from weightwatch.testing.models import TrainSpec, train

    torch.manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(True)
    train(model, tokenizer, TrainSpec(steps, lr, "b", seed))
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _id_batches(texts: list[I64], *, bos: int, batch: int) -> Any:
    """Equal-length texts as BOS-prepended token-id tensors, ``batch`` texts at a time."""
    import torch

    for lo in range(0, len(texts), batch):
        yield torch.from_numpy(
            np.stack([np.concatenate([[bos], t]) for t in texts[lo : lo + batch]])
        )


def per_text_nll_and_argmax(
    model: Any, texts: list[I64], *, bos: int, batch: int = 4
) -> tuple[F64, list[I64]]:
    """Mean NLL per token of each text (after BOS) and the greedy next token at each position."""
    import torch

    nll: list[float] = []
    greedy: list[I64] = []
    with torch.no_grad():
        for ids in _id_batches(texts, bos=bos, batch=batch):
            logits = model(input_ids=ids).logits[:, :-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            got = logp.gather(-1, ids[:, 1:, None])[..., 0]
            nll += (-got.mean(dim=1)).tolist()
            greedy += [row.numpy().astype(np.int64) for row in logits.argmax(-1)]
    return np.asarray(nll), greedy


def log_ratio_and_kl(
    model_a: Any, model_b: Any, texts: list[I64], *, bos: int, batch: int = 4
) -> tuple[F64, F64]:
    """Per text: ``log P_a(text) - log P_b(text)`` (BOS prepended), and the sum over its
    positions of ``KL(p_a || p_b)`` between the two next-token distributions.

    Over texts drawn from ``model_a`` the second has mean ``KL(P_a || P_b)`` of the whole
    text (the chain rule) with less variance than the first; both feed
    ``detection_limits``. Batches keep the two models' logits at a few hundred MB."""
    import torch

    ratio: list[float] = []
    kl: list[float] = []
    with torch.no_grad():
        for ids in _id_batches(texts, bos=bos, batch=batch):
            la = torch.log_softmax(model_a(input_ids=ids).logits[:, :-1].float(), dim=-1)
            lb = torch.log_softmax(model_b(input_ids=ids).logits[:, :-1].float(), dim=-1)
            nxt = ids[:, 1:, None]
            ratio += (la.gather(-1, nxt) - lb.gather(-1, nxt))[..., 0].double().sum(1).tolist()
            kl += (la.exp() * (la - lb)).sum(-1).double().sum(1).tolist()
    return np.asarray(ratio), np.asarray(kl)


def kl_per_token(base_logits: Any, model: Any, ids: Any) -> float:
    """Mean KL(base || model) per position over a batch of texts (nats)."""
    import torch

    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=ids).logits.float(), dim=-1)
        lb = torch.log_softmax(base_logits, dim=-1)
        return float((lb.exp() * (lb - lp)).sum(-1).mean())


def predicted_mean_psi(kl: float, tokens: int) -> float:
    """GaussMark's statistic's mean under the alternative, about sqrt(2 n KL) (see gaussmark)."""
    return math.sqrt(max(0.0, 2.0 * tokens * kl))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


__all__ = [
    "finetune_in_place",
    "gguf_to_folder",
    "kl_per_token",
    "per_text_nll_and_argmax",
    "predicted_mean_psi",
    "wilson",
]
