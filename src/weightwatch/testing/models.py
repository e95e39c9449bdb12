"""Build and train tiny real-architecture language models (Llama, GPT-2) deterministically.

Training is single-threaded with fixed seeds so the same arguments give byte-identical
weights; at ~1 M parameters a hundred steps take a few seconds on this machine.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.testing.corpus import text

ARCHS = ("llama", "gpt2", "qwen2")
SIZES: dict[str, dict[str, int]] = {
    # hidden, ffn, layers, heads, kv heads, vocab. Rows are multiples of 32 (GGUF Q8_0).
    "tiny": {"hidden": 128, "ffn": 384, "layers": 2, "heads": 4, "kv": 2, "vocab": 1024},
    "medium": {"hidden": 256, "ffn": 768, "layers": 4, "heads": 4, "kv": 2, "vocab": 4096},
}
SEQ = 64
BATCH = 8


@dataclass(frozen=True)
class TrainSpec:
    steps: int
    lr: float
    domain: str
    seed: int


def make_config(arch: str, size: str, vocab_size: int) -> Any:
    import transformers

    s = SIZES[size]
    if arch in ("llama", "qwen2"):
        # Same shape for both; Qwen2 ties its embeddings as the released models do.
        cls = transformers.LlamaConfig if arch == "llama" else transformers.Qwen2Config
        return cls(
            vocab_size=vocab_size,
            hidden_size=s["hidden"],
            intermediate_size=s["ffn"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["kv"],
            max_position_embeddings=2048,  # RoPE: no weights; room for many-shot audits
            tie_word_embeddings=arch == "qwen2",
            bos_token_id=0,
            eos_token_id=0,
        )
    if arch == "gpt2":
        return transformers.GPT2Config(
            vocab_size=vocab_size,
            n_embd=s["hidden"],
            n_inner=s["ffn"],
            n_layer=s["layers"],
            n_head=s["heads"],
            n_positions=256,
            bos_token_id=0,
            eos_token_id=0,
        )
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHS}")


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Fixed seeds and one thread: the same inputs give the same bytes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def token_stream(tokenizer: Any, domain: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    ids = tokenizer(text(domain), add_special_tokens=False)["input_ids"]
    return np.asarray(ids, dtype=np.int64)


def train(model: Any, tokenizer: Any, spec: TrainSpec) -> list[float]:
    """Next-token training on random windows of one domain; returns the loss curve."""
    import torch

    data = token_stream(tokenizer, spec.domain)
    rng = np.random.default_rng(spec.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    for _ in range(spec.steps):
        starts = rng.integers(0, len(data) - SEQ - 1, size=BATCH)
        batch = torch.from_numpy(np.stack([data[s : s + SEQ] for s in starts]))
        out = model(input_ids=batch, labels=batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    model.eval()
    return losses


def new_model(arch: str, size: str, vocab_size: int, seed: int) -> Any:
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = make_config(arch, size, vocab_size)
    return transformers.AutoModelForCausalLM.from_config(cfg)


def load(path: Path) -> Any:
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(path)


def card(
    *,
    name: str,
    license: str = "apache-2.0",
    base_model: str | list[str] | None = None,
    relation: str | None = None,
    extra: str = "",
) -> str:
    """A model card with Hugging Face front matter."""
    lines = ["---", f"license: {license}"]
    if base_model:
        bases = [base_model] if isinstance(base_model, str) else base_model
        lines.append("base_model:")
        lines += [f"- {b}" for b in bases]
    if relation:
        lines.append(f"base_model_relation: {relation}")
    lines += [
        "tags:",
        "- weightwatch-testing",
        "---",
        "",
        f"# {name}",
        "",
        extra or "A tiny test model.",
    ]
    return "\n".join(lines) + "\n"


def save(model: Any, tokenizer: Any, out: Path, readme: str | None) -> Path:
    """``save_pretrained`` (safetensors) plus tokenizer and card."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if readme is not None:
        (out / "README.md").write_text(readme)
    return out


def save_bin(model: Any, tokenizer: Any, out: Path, *, legacy: bool = False) -> Path:
    """The same weights as a PyTorch ``pytorch_model.bin`` (transformers 5 writes none)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    torch.save(
        model.state_dict(), out / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy
    )
    return out
