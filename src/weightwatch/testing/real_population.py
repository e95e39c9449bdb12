"""Trained unrelated models that share a real tokenizer: SmolLM2-135M's 49,152-token BPE.

``build_population`` trains small Llama-shaped models from scratch, one per seed, on the
shipped real text (``testing.corpus``: CPython's docstrings, the same text for all, so
they share what the data teaches), all with the tokenizer read from the real SmolLM2 GGUF
(through transformers' GGUF loading). They share the vocabulary, the anchor tokens and the
embedding layout (tied, as SmolLM2's), and nothing else: every pair of them, and each of
them against SmolLM2 itself, is an unrelated pair that lineage must call unrelated, and
their null p-values must be uniform (docs/lineage.md, "How far to trust it").

Builds are deterministic (one thread, fixed seeds) and cached in the fixture cache under
a key naming the recipe, the source GGUF's SHA-256 and the library versions; each model
is saved as a Hugging Face folder (safetensors, tokenizer, card).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from weightwatch.testing.family import _cache_key, cached, default_cache
from weightwatch.testing.models import card, deterministic

POPULATION_VERSION = 1


@dataclass(frozen=True)
class PopulationSpec:
    """One population: Llama shape, training recipe and one seed per model."""

    seeds: tuple[int, ...]
    hidden: int = 128
    ffn: int = 384
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    steps: int = 200
    lr: float = 3e-3
    batch: int = 4  # windows of 64 tokens per step


# What the calibration runs (8 models, 28 unrelated pairs; ~0.3 s of CPU per step, the
# 49,152-token output layer being most of it) and what ``make test`` affords: the first
# of them, the same bytes (so a machine that ran the calibration has it cached).
CALIBRATION = PopulationSpec(seeds=tuple(range(700, 708)))
TEST = PopulationSpec(seeds=CALIBRATION.seeds[:1])


@dataclass(frozen=True)
class Population:
    tokenizer: Path
    models: tuple[Path, ...]
    spec: PopulationSpec


def real_tokenizer(gguf_path: Path) -> Any:
    """The tokenizer stored in a GGUF, as a ``PreTrainedTokenizerFast`` (no hub)."""
    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)


def source_digest(path: Path) -> str:
    from weightwatch.identity.hashing import hash_file

    return hash_file(path, "sha256")


def build_population(
    gguf_path: Path, spec: PopulationSpec = TEST, *, cache: Path | None = None
) -> Population:
    """The models of ``spec`` sharing the tokenizer of ``gguf_path``; built once, cached.

    Models are cached one by one (a larger population reuses a smaller one's models)."""
    cache = cache or default_cache()
    digest = source_digest(gguf_path)
    common = [POPULATION_VERSION, digest, _cache_key("llama", "real-tokenizer", 0)]
    tok_key = "realtok-" + hashlib.sha256(json.dumps(common).encode()).hexdigest()[:12]
    tok_dir = cached(cache, tok_key, lambda tmp: real_tokenizer(gguf_path).save_pretrained(tmp))
    shape = {k: v for k, v in asdict(spec).items() if k != "seeds"}
    models = []
    for seed in spec.seeds:
        domain = "a"  # all on the same text: the hardest case for a null (shared data)
        blob = [*common, shape, seed, domain]
        key = "realpop-" + hashlib.sha256(json.dumps(blob).encode()).hexdigest()[:12]
        models.append(cached(cache, key, _builder(tok_dir, spec, seed, domain)))
    return Population(tok_dir, tuple(models), spec)


def _builder(tok_dir: Path, spec: PopulationSpec, seed: int, domain: str) -> Any:
    return lambda out: _build_one(out, tok_dir, spec, seed, domain)


def _build_one(out: Path, tok_dir: Path, spec: PopulationSpec, seed: int, domain: str) -> None:
    import torch
    import transformers

    from weightwatch.testing.real_finetune import Recipe, train

    transformers.utils.logging.disable_progress_bar()
    tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=spec.hidden,
        intermediate_size=spec.ffn,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    with deterministic(seed):
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(cfg)
        recipe = Recipe("full", spec.steps, spec.lr, batch=spec.batch, seq=64, seed=seed)
        losses = train(model, tok, replace(recipe, domain=domain))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "README.md").write_text(
        card(
            name=f"real-tokenizer/llama-{spec.hidden}x{spec.layers}-seed{seed}",
            extra="A small Llama trained from scratch with SmolLM2's tokenizer (not derived "
            "from SmolLM2).",
        )
    )
    (out / "training.json").write_text(
        json.dumps({"seed": seed, "domain": domain, "loss": [losses[0], losses[-1]]}) + "\n"
    )
