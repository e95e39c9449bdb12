"""Evaluating weight watermarks on tiny models: texts, the downloader's edits, the table.

Shared by the bounded tests (tests/watermark/test_weight_marks.py) and the full run
(``make watermark-eval``, benchmarks/watermark/weights_eval.py). "Human" text is the docstrings
of this Python's standard library (PSF-2.0), cut into 200-token pieces; generated text
is plain multinomial sampling from BOS with no logits processor — what a downloader of
the weights does. Model edits follow Gloaguen et al. (2025): fine-tuning on unrelated
text (two strengths), LoRA merged, int8/int4 round to nearest, GGUF Q8_0/Q4_0
quantize-dequantize (the numerics of a GGUF round trip, via the ``gguf`` package), magnitude
pruning of every
matrix (``lm_head`` included), a linear 50/50 merge with an unmarked model.
"""

from __future__ import annotations

import ast
import copy
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def _docstrings() -> Iterator[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "test" in rel or "site-packages" in rel or "idle" in rel:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    yield doc


def human_texts(tokenizer: Any, count: int, *, tokens: int = 200, skip: int = 0) -> list[I64]:
    """``count`` pieces of ``tokens`` tokens of CPython docstrings (after ``skip`` pieces)."""
    out: list[I64] = []
    buf: list[int] = []
    for doc in _docstrings():
        buf += tokenizer(doc + "\n\n", add_special_tokens=False)["input_ids"]
        while len(buf) >= tokens:
            if skip > 0:
                skip -= 1
            else:
                out.append(np.asarray(buf[:tokens], dtype=np.int64))
                if len(out) == count:
                    return out
            buf = buf[tokens:]
    raise RuntimeError(f"only {len(out)} human texts of {tokens} tokens available")


def sample(
    model: Any,
    count: int,
    *,
    tokens: int = 200,
    seed: int = 0,
    batch: int = 50,
    bos: int = 0,
    logits_processor: list[Any] | None = None,
) -> list[I64]:
    """``count`` texts of exactly ``tokens`` tokens, sampled at temperature 1 from BOS."""
    import torch

    out: list[I64] = []
    torch.manual_seed(seed)
    while len(out) < count:
        n = min(batch, count - len(out))
        prompt = torch.full((n, 1), bos, dtype=torch.long)
        with torch.no_grad():
            ids = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                do_sample=True,
                top_k=0,
                top_p=1.0,
                temperature=1.0,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                pad_token_id=bos,
                logits_processor=logits_processor,
            )
        out += [row[1:].numpy().astype(np.int64) for row in ids]
    return out


def substitute(texts: list[I64], *, fraction: float, vocab: int, seed: int = 0) -> list[I64]:
    """Replace ``fraction`` of each text's tokens by uniform random tokens."""
    rng = np.random.default_rng(seed)
    out = []
    for t in texts:
        t = t.copy()
        where = rng.choice(t.size, size=round(fraction * t.size), replace=False)
        t[where] = rng.integers(0, vocab, size=where.size)
        out.append(t)
    return out


def paraphrase(
    texts: list[I64], paraphraser: Any, *, copy_bias: float, bos: int = 0
) -> tuple[list[I64], float]:
    """Rewrite each text with another model; returns the texts and the share of tokens changed.

    Token by token, teacher-forced on the original: the rewrite's token ``i`` is the
    paraphraser's greedy choice given the original's first ``i`` tokens, with
    ``copy_bias`` nats added to the original token (a paraphraser that keeps a word when
    it finds it plausible; ``copy_bias = 0`` is pure greedy re-generation). Both models
    must share the tokenizer (the tiny families do).
    """
    import torch

    out: list[I64] = []
    changed = 0
    with torch.no_grad():
        for t in texts:
            ids = torch.from_numpy(np.concatenate([[bos], t[:-1]]))[None]
            logits = paraphraser(input_ids=ids).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            logp[torch.arange(t.size), torch.from_numpy(t)] += copy_bias
            new = logp.argmax(-1).numpy().astype(np.int64)
            changed += int((new != t).sum())
            out.append(new)
    return out, changed / max(1, sum(t.size for t in texts))


def _each_matrix(model: Any, fn: Callable[[npt.NDArray[np.float32]], npt.NDArray[Any]]) -> Any:
    import torch

    edited = copy.deepcopy(model)
    with torch.no_grad():
        for _name, p in edited.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.from_numpy(np.asarray(fn(p.detach().numpy()), dtype=np.float32)))
    return edited


def gguf_roundtrip(model: Any, kind: str) -> Any:
    """Every matrix through GGUF ``Q8_0`` or ``Q4_0`` quantize-dequantize (gguf package)."""
    from gguf import GGMLQuantizationType, quants

    qtype = getattr(GGMLQuantizationType, kind)
    return _each_matrix(model, lambda w: quants.dequantize(quants.quantize(w, qtype), qtype))


def prune_all(model: Any, *, fraction: float) -> Any:
    """Zero the smallest ``fraction`` of every matrix by magnitude, output matrix included."""

    def cut(w: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        threshold = np.quantile(np.abs(w), fraction)
        return np.where(np.abs(w) <= threshold, 0.0, w).astype(np.float32)

    return _each_matrix(model, cut)


def model_edits(marked: Any, tokenizer: Any, unmarked: Any, *, ft_steps: int) -> dict[str, Any]:
    """The downloader's edits of a marked model, by table row name."""
    from weightwatch.testing import derive

    return {
        "unmodified": marked,
        f"fine-tune {ft_steps} steps, lr 1e-4, unrelated text": derive.finetune(
            marked, tokenizer, steps=ft_steps, lr=1e-4, domain="b"
        ),
        "fine-tune 10 steps, lr 1e-3, unrelated text": derive.finetune(
            marked, tokenizer, steps=10, lr=1e-3, domain="b"
        ),
        "LoRA (r=8) merged": derive.lora_merged(marked, tokenizer, steps=ft_steps, domain="b"),
        "int8 (per row)": derive.quantize(marked, bits=8),
        "int4 (per row)": derive.quantize(marked, bits=4),
        "GGUF Q8_0": gguf_roundtrip(marked, "Q8_0"),
        "GGUF Q4_0": gguf_roundtrip(marked, "Q4_0"),
        "30% magnitude pruning": prune_all(marked, fraction=0.3),
        "50/50 merge with unmarked": derive.merge(marked, unmarked, weight=0.5),
    }


def tpr(p_values: npt.ArrayLike, alpha: float) -> float:
    return float(np.mean(np.asarray(p_values) <= alpha))


def mean_nll(model: Any, texts: list[I64]) -> npt.NDArray[np.float64]:
    """Mean negative log-likelihood per token of each text (BOS prepended)."""
    import torch

    out = []
    with torch.no_grad():
        for t in texts:
            ids = torch.from_numpy(np.concatenate([[0], t]))[None]
            out.append(float(model(input_ids=ids, labels=ids).loss))
    return np.asarray(out)


def ratio_interval(
    diffs: npt.NDArray[np.float64], *, seed: int = 0, resamples: int = 2000
) -> tuple[float, float, float]:
    """Perplexity ratio exp(mean NLL difference) with a 95% bootstrap interval (by text)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diffs.size, size=(resamples, diffs.size))
    means = diffs[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(np.exp(diffs.mean())), float(np.exp(lo)), float(np.exp(hi))


def greedy_agreement(a: Any, b: Any, texts: list[I64]) -> npt.NDArray[np.float64]:
    """Per text, the fraction of positions where both models' greedy next token agree.

    Teacher-forced on the same (human) text, so one early disagreement does not make the
    rest of a free-running continuation disagree by construction.
    """
    import torch

    out = []
    with torch.no_grad():
        for t in texts:
            ids = torch.from_numpy(np.concatenate([[0], t]))[None]
            pa = a(input_ids=ids).logits[0].argmax(-1)
            pb = b(input_ids=ids).logits[0].argmax(-1)
            out.append(float((pa == pb).float().mean()))
    return np.asarray(out)


__all__ = [
    "gguf_roundtrip",
    "greedy_agreement",
    "human_texts",
    "mean_nll",
    "model_edits",
    "paraphrase",
    "prune_all",
    "ratio_interval",
    "sample",
    "substitute",
    "tpr",
]
