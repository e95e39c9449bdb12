"""Shared pieces of the watermark evaluation: models, human text, generation, attacks.

Human text is local and licence-clean: the corpus shipped with ``weightwatch.testing``
(Python docstrings and licence texts, PSF / licence notices in its SOURCE.md) as prose,
and the Python standard library's own source files (PSF-2.0) as code.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weightwatch.testing import build_family, corpus
from weightwatch.watermark import WatermarkKey, WatermarkLogitsProcessor, WatermarkScheme

PROMPT_LEN = 16
I64 = np.ndarray[Any, np.dtype[np.int64]]


def load_family(arch: str) -> tuple[Any, Any, Path]:
    """The tiny base model of ``arch``, its tokenizer (transformers) and tokenizer folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    fam = build_family(arch=arch)
    model = AutoModelForCausalLM.from_pretrained(fam.base, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(fam.base, local_files_only=True)
    return model, tok, fam.base


def prose_ids(tok: Any) -> I64:
    text = corpus.text("a") + "\n\n" + corpus.text("b")
    return np.asarray(tok(text, add_special_tokens=False)["input_ids"], dtype=np.int64)


def code_ids(tok: Any, *, max_chars: int = 3_000_000) -> I64:
    """Standard-library source (tests skipped), in a fixed order, up to ``max_chars``."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib).parts
        if any(p in ("test", "tests", "idle_test", "site-packages") for p in rel):
            continue
        try:
            src = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(src)
        total += len(src)
        if total >= max_chars:
            break
    ids: list[int] = []
    for src in parts:  # per file: one giant string would be slow to tokenize
        ids.extend(tok(src, add_special_tokens=False)["input_ids"])
    return np.asarray(ids, dtype=np.int64)


def chunks(ids: I64, length: int) -> list[I64]:
    return [ids[i : i + length] for i in range(0, len(ids) - length + 1, length)]


def prompts(human: I64, count: int, rng: np.random.Generator) -> I64:
    starts = rng.integers(0, len(human) - PROMPT_LEN, count)
    return np.stack([human[s : s + PROMPT_LEN] for s in starts])


def generate(
    model: Any,
    prompt_ids: I64,
    *,
    scheme: WatermarkScheme | None,
    key: WatermarkKey | None,
    tokens: int,
    seed: int,
    batch: int = 50,
) -> I64:
    """Generated tokens only (no prompt), (len(prompt_ids), tokens); EOS suppressed."""
    out: list[I64] = []
    procs = [] if scheme is None or key is None else [WatermarkLogitsProcessor(scheme, key)]
    greedy = scheme is not None and scheme.kind == "sampler"
    eos = model.config.eos_token_id
    for i in range(0, len(prompt_ids), batch):
        prompt = torch.from_numpy(prompt_ids[i : i + batch])
        torch.manual_seed(seed + i)
        with torch.no_grad():
            gen = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                logits_processor=procs,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=not greedy,
                top_k=None if greedy else 0,
                top_p=None if greedy else 1.0,
                temperature=None if greedy else 1.0,
                pad_token_id=eos,
                suppress_tokens=[eos] if eos is not None else None,
            )
        out.append(gen[:, prompt.shape[1] :].numpy().astype(np.int64))
    return np.concatenate(out)


def nll(model: Any, prompt_ids: I64, generated: I64, batch: int = 50) -> float:
    """Mean negative log-likelihood per generated token under ``model`` (no watermark)."""
    total, count = 0.0, 0
    for i in range(0, len(prompt_ids), batch):
        ids = torch.from_numpy(
            np.concatenate([prompt_ids[i : i + batch], generated[i : i + batch]], 1)
        )
        with torch.no_grad():
            logits = model(ids).logits[:, PROMPT_LEN - 1 : -1].float()
        logp = torch.log_softmax(logits, -1)
        target = ids[:, PROMPT_LEN:]
        total -= float(logp.gather(-1, target[..., None]).sum())
        count += target.numel()
    return total / count


# -- attacks on token ids ------------------------------------------------------------------

Attack = Callable[[I64, np.random.Generator], I64]


def substitute(rate: float, vocab: int) -> Attack:
    def run(seq: I64, rng: np.random.Generator) -> I64:
        out = seq.copy()
        hit = rng.random(len(out)) < rate
        out[hit] = rng.integers(0, vocab, int(hit.sum()))
        return out

    return run


def delete(rate: float) -> Attack:
    def run(seq: I64, rng: np.random.Generator) -> I64:
        return seq[rng.random(len(seq)) >= rate]

    return run


def insert(rate: float, human: I64) -> Attack:
    """Insert human-text tokens after a fraction ``rate`` of the positions."""

    def run(seq: I64, rng: np.random.Generator) -> I64:
        out: list[int] = []
        for t in seq.tolist():
            out.append(t)
            if rng.random() < rate:
                out.append(int(human[rng.integers(0, len(human))]))
        return np.asarray(out, dtype=np.int64)

    return run


def roundtrip(tok: Any) -> Attack:
    def run(seq: I64, rng: np.random.Generator) -> I64:
        text = tok.decode(seq.tolist(), skip_special_tokens=True)
        return np.asarray(tok(text, add_special_tokens=False)["input_ids"], dtype=np.int64)

    return run


def embed(human: I64, *, keep: int, total: int) -> Attack:
    """``keep`` watermarked tokens at a random place inside ``total`` human tokens."""

    def run(seq: I64, rng: np.random.Generator) -> I64:
        start = int(rng.integers(0, len(human) - total))
        host = human[start : start + total - keep]
        at = int(rng.integers(0, len(host) + 1))
        return np.concatenate([host[:at], seq[:keep], host[at:]])

    return run


def copy_paste(human: I64, *, pieces: int, piece_len: int, total: int) -> Attack:
    """``pieces`` watermarked stretches of ``piece_len`` tokens scattered in human text."""

    def run(seq: I64, rng: np.random.Generator) -> I64:
        start = int(rng.integers(0, len(human) - total))
        host = list(human[start : start + total - pieces * piece_len])
        cuts = sorted(rng.choice(len(host) + 1, pieces, replace=False).tolist())
        out: list[int] = []
        prev = 0
        for j, c in enumerate(cuts):
            out.extend(host[prev:c])
            out.extend(seq[j * piece_len : (j + 1) * piece_len].tolist())
            prev = c
        out.extend(host[prev:])
        return np.asarray(out, dtype=np.int64)

    return run
