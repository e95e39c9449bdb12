"""A random Llama-shaped safetensors folder at real size, for benchmarks: the one writer
the register, fingerprint-throughput and sketch benchmarks (and any timing at 1B shape)
share, so their models are byte-identical for the same shape, layers and dtype.

Weights are N(0, 0.02), norms 1; the tokenizer is a byte-level BPE vocabulary with the
anchor tokens the fingerprint needs. Nothing here is trained: it measures speed, never
lineage.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

# TinyLlama-1.1B's shape (22 layers make ~1.1 B parameters)
LLAMA_1B = {"hidden": 2048, "ffn": 5632, "heads": 32, "kv": 4, "vocab": 32000}


def tensor_shapes(
    layers: int, shape: dict[str, int] = LLAMA_1B
) -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor of a Llama with ``layers`` layers of ``shape``, in file order."""
    h, f = shape["hidden"], shape["ffn"]
    kvd = h // shape["heads"] * shape["kv"]
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (shape["vocab"], h))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (h,)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (h, h)),
            (p + "self_attn.k_proj.weight", (kvd, h)),
            (p + "self_attn.v_proj.weight", (kvd, h)),
            (p + "self_attn.o_proj.weight", (h, h)),
            (p + "mlp.gate_proj.weight", (f, h)),
            (p + "mlp.up_proj.weight", (f, h)),
            (p + "mlp.down_proj.weight", (h, f)),
        ]
    return [*out, ("model.norm.weight", (h,)), ("lm_head.weight", (shape["vocab"], h))]


def write_llama(
    root: Path, layers: int, dtype: str = "BF16", shape: dict[str, int] = LLAMA_1B
) -> int:
    """Write the folder into ``root`` (model.safetensors, config.json, tokenizer.json),
    fsynced; returns its size in bytes. ``dtype``: BF16 or F32."""
    if dtype not in ("BF16", "F32"):
        raise ValueError(f"dtype {dtype!r}: BF16 or F32")
    rng = np.random.default_rng(0)
    tensors = tensor_shapes(layers, shape)
    width = 2 if dtype == "BF16" else 4
    header, off = {}, 0
    for name, dims in tensors:
        n = int(np.prod(dims)) * width
        header[name] = {"dtype": dtype, "shape": list(dims), "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "model.safetensors", "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for _name, dims in tensors:
            x = (
                rng.standard_normal(dims, dtype=np.float32) * 0.02
                if len(dims) == 2
                else np.ones(dims, np.float32)
            )
            out.write(((x.view(np.uint32) >> 16).astype(np.uint16) if width == 2 else x).tobytes())
        os.fsync(out.fileno())
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": shape["hidden"],
        "intermediate_size": shape["ffn"],
        "num_hidden_layers": layers,
        "num_attention_heads": shape["heads"],
        "num_key_value_heads": shape["kv"],
        "vocab_size": shape["vocab"],
        "tie_word_embeddings": False,
    }
    (root / "config.json").write_text(json.dumps(config))
    vocab = {chr(c) if 0x21 <= c <= 0x7E else f"<0x{c:02X}>": c for c in range(256)}
    vocab["\u2581"] = 0x20
    vocab.update({f"\u2581tok{i}": 256 + i for i in range(shape["vocab"] - 256)})
    (root / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "BPE", "vocab": vocab, "merges": []}})
    )
    return sum(p.stat().st_size for p in root.iterdir())
