"""Tiny models of every decoder family weightwatch reads, from transformers' own configs,
and their GGUF exports named by the ``gguf`` package's own tables.

The GGUF export applies what llama.cpp's ``convert_hf_to_gguf.py`` does to each family:
the Q/K RoPE permutation for Llama/Mistral/Mixtral, Gemma's ``norm + 1``, GPT-NeoX's and
Falcon's head-interleaved Q/K/V reordered to ``[q; k; v]``, and the experts of a
mixture stacked into one tensor per projection.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.llamacpp import GEMMA_NORM_SHIFT, gguf_arch, permute_qk
from weightwatch.testing.gguf_export import _add_tokenizer, finish

ARCHS = (
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen2_moe",
    "qwen3_moe",
    "gemma2",
    "gemma3_text",
    "phi3",
    "gpt_neox",
    "falcon",
)
_EXPERT = re.compile(r"^(.+\.experts)\.(\d+)\.(.+)$")


def config(arch: str, vocab: int) -> Any:
    """A tiny transformers config of ``arch`` (hidden 64, 2 layers, 4 heads / 2 KV heads)."""
    import transformers as tf

    c: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
        "pad_token_id": 0,
        "bos_token_id": 0,
        "eos_token_id": 0,
    }
    moe: dict[str, Any] = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}
    if arch == "mistral":
        return tf.MistralConfig(**c)
    if arch == "mixtral":
        return tf.MixtralConfig(**c, num_local_experts=4, num_experts_per_tok=2)
    if arch == "qwen2":
        return tf.Qwen2Config(**c)
    if arch == "qwen3":
        return tf.Qwen3Config(**c, head_dim=16)
    if arch == "qwen2_moe":
        return tf.Qwen2MoeConfig(**c, **moe, shared_expert_intermediate_size=64)
    if arch == "qwen3_moe":
        return tf.Qwen3MoeConfig(**c, **moe, head_dim=16)  # type: ignore[call-arg]
    if arch == "gemma2":
        return tf.Gemma2Config(**c, head_dim=16)
    if arch == "gemma3_text":
        return tf.Gemma3TextConfig(**c, head_dim=16, sliding_window=32)
    if arch == "phi3":
        return tf.Phi3Config(**c)
    if arch == "gpt_neox":
        c.pop("num_key_value_heads")
        return tf.GPTNeoXConfig(**c)
    if arch == "falcon":
        c.pop("intermediate_size")
        c["num_kv_heads"] = c.pop("num_key_value_heads")
        return tf.FalconConfig(**c, new_decoder_architecture=True)
    raise ValueError(f"no tiny config for {arch}")


def build(arch: str, tokenizer_dir: Path, out: Path, *, seed: int) -> Any:
    """A randomly initialised tiny ``arch`` model saved with the tokenizer; the model."""
    import torch
    from transformers import AutoModelForCausalLM

    vocab = _vocab_size(tokenizer_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config(arch, vocab))
    with torch.no_grad():  # norms away from their init, so a convention slip shows
        for name, p in model.named_parameters():
            if p.ndim == 1 and "norm" in name:
                p.add_(torch.randn(p.shape) * 0.3)
    model.save_pretrained(out)
    for f in tokenizer_dir.iterdir():
        if f.is_file():
            shutil.copy(f, out / f.name)
    return model


def perturb(model: Any, *, scale: float = 0.1, seed: int = 1) -> Any:
    """A "fine-tune" stand-in: every weight moved by ``scale`` of its own spread."""
    import copy

    import torch

    child = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in child.parameters():
            if p.ndim >= 2:
                p.add_(torch.randn(p.shape, generator=gen) * p.std() * scale)
    return child


def export_gguf(model_dir: Path, out: Path, *, qtype: str = "F32") -> Path:
    """The saved model at ``model_dir`` (with its tokenizer) as llama.cpp's converter
    writes it from those files (``F32``, ``F16`` or ``Q8_0``)."""
    import gguf
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model_dir)
    tokenizer_dir = model_dir
    a = gguf_arch(cfg.model_type)
    if a is None:
        raise ValueError(f"gguf has no architecture for {cfg.model_type}")
    name = gguf.MODEL_ARCH_NAMES[a]
    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out), name)
    w.add_name(f"tiny-{cfg.model_type}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(getattr(cfg, "intermediate_size", None) or 4 * cfg.hidden_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(_kv_heads(cfg))
    w.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7}[qtype])
    _add_tokenizer(w, tokenizer_dir)
    names = gguf.get_tensor_name_map(a, cfg.num_hidden_layers)
    for gg_name, arr in _tensors(model_dir, cfg, names):
        if arr.ndim == 1 or qtype == "F32":
            w.add_tensor(gg_name, arr)
        elif qtype == "F16":
            w.add_tensor(gg_name, arr.astype(np.float16))
        else:
            kind = gguf.GGMLQuantizationType.Q8_0
            w.add_tensor(gg_name, gguf.quants.quantize(arr, kind), raw_dtype=kind)
    return finish(w, out)


def _tensors(model_dir: Path, cfg: Any, names: Any) -> list[tuple[str, npt.NDArray[np.float32]]]:
    from safetensors.numpy import load_file

    mt = cfg.model_type
    out: list[tuple[str, npt.NDArray[np.float32]]] = []
    experts: dict[str, dict[int, npt.NDArray[np.float32]]] = defaultdict(dict)
    state: dict[str, Any] = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        state.update(load_file(f))
    for hf_name, arr in sorted(state.items()):
        arr = np.asarray(arr, dtype=np.float32)
        stem, _, suffix = hf_name.rpartition(".")
        e = _EXPERT.match(stem)
        if e is not None:
            experts[f"{e.group(1)}.{e.group(3)}.{suffix}"][int(e.group(2))] = arr
            continue
        arr = _convert(stem, arr, cfg, mt)
        gg = names.get_name(stem)
        if gg is not None:
            out.append((f"{gg}.{suffix}", np.ascontiguousarray(arr, dtype=np.float32)))
    for key, per in experts.items():
        stem, _, suffix = key.rpartition(".")
        gg = names.get_name(stem)
        if gg is not None:
            stacked = np.stack([per[i] for i in sorted(per)])
            out.append((f"{gg}.{suffix}", np.ascontiguousarray(stacked, dtype=np.float32)))
    return out


def _convert(stem: str, arr: Any, cfg: Any, mt: str) -> Any:
    if mt in ("llama", "mistral", "mixtral"):
        if stem.endswith("q_proj"):
            return permute_qk(arr, cfg.num_attention_heads)
        if stem.endswith("k_proj"):
            return permute_qk(arr, cfg.num_key_value_heads)
    if mt in GEMMA_NORM_SHIFT and stem.endswith("norm"):
        return arr + 1.0
    if stem.endswith("query_key_value"):
        heads, kv = cfg.num_attention_heads, _kv_heads(cfg)
        if mt == "gpt_neox":  # [heads, 3, hd, ...] -> [q; k; v]
            g = arr.reshape(heads, 3, -1, *arr.shape[1:])
            return np.concatenate([g[:, i].reshape(-1, *arr.shape[1:]) for i in range(3)])
        if mt == "falcon":  # [kv, heads/kv + 2, hd, ...] -> [q; k; v]
            g = arr.reshape(kv, heads // kv + 2, -1, *arr.shape[1:])
            q = g[:, :-2].reshape(-1, *arr.shape[1:])
            return np.concatenate(
                [q, g[:, -2].reshape(-1, *arr.shape[1:]), g[:, -1].reshape(-1, *arr.shape[1:])]
            )
    return arr


def _kv_heads(cfg: Any) -> int:
    if cfg.model_type == "falcon":
        if cfg.new_decoder_architecture:
            return int(cfg.num_kv_heads)
        return 1 if cfg.multi_query else int(cfg.num_attention_heads)
    return int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)


def _vocab_size(tokenizer_dir: Path) -> int:
    import json

    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    ids = list(data["model"]["vocab"].values()) + [t["id"] for t in data.get("added_tokens", [])]
    return int(max(ids)) + 1
