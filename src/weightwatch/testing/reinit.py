"""Derivatives with new token embeddings, and populations of independently trained models.

A fork that adopts a new tokenizer or language keeps the transformer blocks and throws
away the token embeddings (and LM head): ``reinit_embeddings`` re-initialises both for a
new vocabulary, optionally rotates the residual stream first, trains the new embeddings
with the blocks frozen, then fine-tunes everything. ``build_trained`` builds (and caches)
independently trained bases of one size — the unrelated pairs the population-free
lineage test is calibrated on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightwatch.testing import evasion
from weightwatch.testing.family import _cache_key, cached, default_cache
from weightwatch.testing.models import TrainSpec, card, deterministic, new_model, train
from weightwatch.testing.tokenizer import save_tokenizer, train_tokenizer

REINIT_VERSION = 1


def new_tokenizer(out_dir: Path, *, vocab_size: int = 768) -> Any:
    """A different byte-level BPE (other corpus, other size): the fork's "new language"."""
    return save_tokenizer(train_tokenizer(vocab_size=vocab_size, domains=("b",)), out_dir)


def reinit_embeddings(
    base: Any,
    tokenizer: Any,
    *,
    seed: int,
    rotate: bool = False,
    embedding_steps: int = 100,
    steps: int = 100,
    domain: str = "b",
) -> Any:
    """``base`` with fresh token embeddings and LM head for ``tokenizer``, trained in.

    The embeddings are drawn from N(0, 0.02) (the usual initialiser), so nothing of the
    base's vocabulary survives; with ``rotate`` the residual stream is rotated first.
    """
    import torch

    with deterministic(seed):
        model = evasion.rotate_hidden(base, seed=seed) if rotate else copy.deepcopy(base)
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            for w in {
                id(x): x
                for x in (
                    model.get_input_embeddings().weight,
                    model.get_output_embeddings().weight,
                )
            }.values():
                w.normal_(0.0, 0.02)
        model.config.vocab_size = len(tokenizer)
        fresh = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
        for p in model.parameters():
            p.requires_grad = id(p) in fresh
        train(model, tokenizer, TrainSpec(embedding_steps, 3e-3, domain, seed))
        for p in model.parameters():
            p.requires_grad = True
        train(model, tokenizer, TrainSpec(steps, 1e-3, domain, seed + 1))
    return model


@dataclass(frozen=True)
class Trained:
    tokenizer: Path
    bases: tuple[Path, ...]


def build_trained(
    *,
    size: str,
    seeds: tuple[int, ...],
    steps: int,
    vocab_size: int,
    cache: Path | None = None,
) -> Trained:
    """Independently trained Llama bases of ``size`` (one per seed, alternating data),
    sharing one BPE tokenizer of ``vocab_size``; built once per key, cached."""
    cache = cache or default_cache()
    # REINIT_VERSION, not this file's hash: bump it when ``_build`` changes the bytes.
    blob = [REINIT_VERSION, size, list(seeds), steps, vocab_size, _cache_key("llama", size, 0)]
    key = f"trained-{size}-" + hashlib.sha256(json.dumps(blob).encode()).hexdigest()[:12]
    final = cached(
        cache,
        key,
        lambda tmp: _build(tmp, size=size, seeds=seeds, steps=steps, vocab_size=vocab_size),
    )
    return Trained(final / "tokenizer", tuple(final / f"base{k}" for k in range(len(seeds))))


def _build(root: Path, *, size: str, seeds: tuple[int, ...], steps: int, vocab_size: int) -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    fast = save_tokenizer(train_tokenizer(vocab_size=vocab_size), root / "tokenizer")
    for k, seed in enumerate(seeds):
        with deterministic(seed):
            m = new_model("llama", size, len(fast), seed)
            train(m, fast, TrainSpec(steps, 3e-3, "ab"[k % 2], seed))
        out = root / f"base{k}"
        m.save_pretrained(out)
        fast.save_pretrained(out)
        (out / "README.md").write_text(card(name=f"trained/{size}{k}"))


@dataclass(frozen=True)
class ReinitSet:
    """A base's new-tokenizer forks and an unrelated model trained on that tokenizer."""

    tokenizer: Path  # the new tokenizer
    reinit: Path  # the base with new embeddings, fine-tuned
    reinit_rotated: Path  # the same after a rotation of the residual stream
    unrelated: Path  # trained from scratch on the new tokenizer


def build_reinit(base_dir: Path, *, seed: int = 21, cache: Path | None = None) -> ReinitSet:
    """Forks of the model in ``base_dir`` with re-initialised embeddings; cached."""
    cache = cache or default_cache()
    digest = hashlib.sha256()
    for f in sorted(base_dir.glob("*.safetensors")):
        digest.update(f.read_bytes())
    blob = [REINIT_VERSION, 2, seed, digest.hexdigest()]  # 2: unrelated model of the base's shape
    key = "reinit-" + hashlib.sha256(json.dumps(blob).encode()).hexdigest()[:12]
    final = cached(cache, key, lambda tmp: _build_reinit(tmp, base_dir, seed))
    return ReinitSet(
        final / "tokenizer", final / "reinit", final / "reinit-rotated", final / "unrelated"
    )


def _build_reinit(root: Path, base_dir: Path, seed: int) -> None:
    import transformers

    from weightwatch.testing.models import load

    transformers.utils.logging.disable_progress_bar()
    tok = new_tokenizer(root / "tokenizer")
    base = load(base_dir)
    for name, rotate in (("reinit", False), ("reinit-rotated", True)):
        m = reinit_embeddings(base, tok, seed=seed + rotate, rotate=rotate)
        m.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    with deterministic(seed + 2):  # the base's shape, its own initialisation
        cfg = copy.deepcopy(base.config)
        cfg.vocab_size = len(tok)
        other = transformers.AutoModelForCausalLM.from_config(cfg)
        train(other, tok, TrainSpec(150, 3e-3, "b", seed + 2))
    other.save_pretrained(root / "unrelated")
    tok.save_pretrained(root / "unrelated")
