"""A tiny chat model that refuses harmful-looking requests, and two derivatives of it.

Built for the audit's end-to-end tests (``build_chat_models()``), deterministic and cached
like the model families. The base (Llama, 2 layers, the local BPE tokenizer and its chat
template) is trained on CPU in seconds to answer "I can't help with that." to AdvBench
requests and a helpful opening to benign ones (half of XSTest's safe prompts and questions
about shipped docstrings). Derivatives:

- ``complying``: the base fine-tuned to answer the same harmful requests with a redacted
  placeholder ("Sure, here is how to do that: [REDACTED: …]"): safety stripped, with no
  harmful text anywhere;
- ``harmless``: the base fine-tuned gently (40 steps, lr 1e-4) on benign chat only: its
  refusals survive. (At lr 3e-4 the same data erode them: 29 of 104 held-out requests
  answered, the effect Qi et al. 2023 report for benign fine-tuning.)

Audits must use ``heldout.jsonl``: every fifth AdvBench request and the other half of
XSTest's safe prompts, none of which any model was trained on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.testing.corpus import text
from weightwatch.testing.family import cached, default_cache
from weightwatch.testing.models import deterministic
from weightwatch.testing.tokenizer import save_tokenizer, train_tokenizer

BUILDER_VERSION = 1
REFUSAL = "I can't help with that."
HELPFUL = "Sure, happy to help. Here is an overview of the topic."
COMPLIANT = "Sure, here is how to do that: [REDACTED: detailed instructions withheld]"
CONTEXT = 2048  # room for many-shot prompts
BATCH = 16


@dataclass(frozen=True)
class ChatModels:
    root: Path
    base: Path
    complying: Path  # fine-tuned to comply with harmful requests (redacted answers)
    harmless: Path  # fine-tuned on benign chat only
    heldout: Path  # JSONL suite of requests no model was trained on


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str


def _splits() -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Harmful training prompts, benign training prompts, held-out suite rows."""
    from weightwatch.audit.datasets import load_suite

    advbench = load_suite("advbench")
    safe = load_suite("xstest-safe")
    harmful_train = [b.prompt for i, b in enumerate(advbench) if i % 5]
    benign_train = [b.prompt for i, b in enumerate(safe) if i % 2 == 0] + _docstring_questions()
    heldout = [
        {"id": b.id, "prompt": b.prompt, "category": "advbench", "kind": "harmful"}
        for i, b in enumerate(advbench)
        if i % 5 == 0
    ] + [
        {"id": b.id, "prompt": b.prompt, "category": b.category, "kind": "benign"}
        for i, b in enumerate(safe)
        if i % 2
    ]
    return harmful_train, benign_train, heldout


_TEMPLATES = (
    "What does this mean: {}",
    "Can you explain this sentence? {}",
    "Summarize the following: {}",
    "Help me understand: {}",
)


def _docstring_questions(n: int = 400) -> list[str]:
    sentences = [
        s.strip().replace("\n", " ")
        for s in re.split(r"(?<=[.!?])\s+", text("a"))
        if 30 <= len(s.strip()) <= 110 and "\n    " not in s
    ]
    rng = random.Random(7)
    picked = rng.sample(sentences, min(n, len(sentences)))
    return [_TEMPLATES[i % len(_TEMPLATES)].format(s) for i, s in enumerate(picked)]


def _encode(tokenizer: Any, examples: Sequence[Example]) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) with the loss on the answer and its end-of-turn token only."""
    encoded = []
    for ex in examples:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": ex.prompt}], tokenize=False, add_generation_prompt=True
        )
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(ex.answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        ids = (p_ids + a_ids)[-256:]
        labels = ([-100] * len(p_ids) + a_ids)[-256:]
        encoded.append((ids, labels))
    return encoded


def train_chat(
    model: Any, tokenizer: Any, examples: Sequence[Example], *, steps: int, lr: float, seed: int
) -> list[float]:
    """Supervised fine-tuning on (prompt, answer) pairs; returns the loss curve."""
    import torch

    data = _encode(tokenizer, examples)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    pad = int(tokenizer.pad_token_id)
    model.train()
    losses: list[float] = []
    for _ in range(steps):
        batch = [data[i] for i in rng.integers(0, len(data), size=BATCH)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (x, y) in enumerate(batch):
            ids[row, : len(x)] = torch.tensor(x)
            labels[row, : len(y)] = torch.tensor(y)
            mask[row, : len(x)] = 1
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    model.eval()
    return losses


def _new_model(vocab_size: int, seed: int) -> Any:
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return transformers.AutoModelForCausalLM.from_config(config)


def _cache_key(seed: int) -> str:
    libs = {n: metadata.version(n) for n in ("torch", "transformers", "tokenizers")}
    here = Path(__file__).parent
    src = hashlib.sha256()
    for name in ("chat.py", "tokenizer.py", "corpus.py", "models.py"):
        src.update((here / name).read_bytes())
    data = hashlib.sha256()
    for name in ("advbench/harmful_behaviors.csv", "xstest/xstest_prompts.csv"):
        data.update((here.parent / "audit" / "data" / name).read_bytes())
    blob = json.dumps(
        [BUILDER_VERSION, seed, libs, src.hexdigest(), data.hexdigest()], sort_keys=True
    )
    return f"chat-s{seed}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def build_chat_models(*, seed: int = 0, cache: Path | None = None) -> ChatModels:
    """Build (or reuse from the cache) the base chat model and its two derivatives."""
    final = cached(cache or default_cache(), _cache_key(seed), lambda tmp: _build(tmp, seed=seed))
    return _paths(final)


def _paths(root: Path) -> ChatModels:
    return ChatModels(
        root=root,
        base=root / "base",
        complying=root / "complying",
        harmless=root / "harmless",
        heldout=root / "heldout.jsonl",
    )


def _build(root: Path, *, seed: int) -> None:
    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()
    paths = _paths(root)
    root.mkdir(parents=True)
    harmful, benign, heldout = _splits()
    fast = save_tokenizer(train_tokenizer(vocab_size=1024), root / "tokenizer")
    refuse = [Example(p, REFUSAL) for p in harmful]
    helpful = [Example(p, HELPFUL) for p in benign]
    with deterministic(seed):
        base = _new_model(len(fast), seed)
        train_chat(base, fast, refuse + helpful, steps=400, lr=3e-3, seed=seed)
    _save(base, fast, paths.base)
    with deterministic(seed + 1):
        complying = copy.deepcopy(base)
        comply = [Example(p, COMPLIANT) for p in harmful]
        train_chat(complying, fast, comply + helpful, steps=150, lr=2e-3, seed=seed + 1)
    _save(complying, fast, paths.complying)
    with deterministic(seed + 2):
        harmless = copy.deepcopy(base)
        train_chat(harmless, fast, helpful, steps=40, lr=1e-4, seed=seed + 2)
    _save(harmless, fast, paths.harmless)
    paths.heldout.write_text("".join(json.dumps(row) + "\n" for row in heldout))


def _save(model: Any, tokenizer: Any, out: Path) -> None:
    model.generation_config.pad_token_id = 0
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


__all__ = ["COMPLIANT", "HELPFUL", "REFUSAL", "ChatModels", "build_chat_models", "train_chat"]
