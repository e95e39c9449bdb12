"""Fingerprinting a multi-GB model folder: seconds and bytes read, cold and warm.

A TinyLlama-1.1B-shaped folder (22 layers, hidden 2048, MLP 5632, 32 heads / 4 KV
heads, vocabulary 32,000, BF16 safetensors, ~2.2 GB) with random weights is written,
evicted from the page cache, then fingerprinted. Bytes read come from
``/proc/self/io`` (``read_bytes``: what the process pulled from the disk, mmap page-ins
included). A fingerprint needs the anchor rows of the embedding and every attention and
MLP matrix, not the output head.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from weightwatch.fingerprint import fingerprint

SHAPE = {"hidden": 2048, "ffn": 5632, "layers": 22, "heads": 32, "kv": 4, "vocab": 32000}


def bf16(rng: np.random.Generator, shape: tuple[int, ...]) -> bytes:
    x = (rng.standard_normal(shape, dtype=np.float32) * 0.02).view(np.uint32)
    return (x >> 16).astype(np.uint16).tobytes()


def write_model(root: Path) -> int:
    rng = np.random.default_rng(0)
    h, f, kvd = SHAPE["hidden"], SHAPE["ffn"], SHAPE["hidden"] // SHAPE["heads"] * SHAPE["kv"]
    tensors: list[tuple[str, tuple[int, ...]]] = [
        ("model.embed_tokens.weight", (SHAPE["vocab"], h))
    ]
    for i in range(SHAPE["layers"]):
        p = f"model.layers.{i}."
        tensors += [
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
    tensors += [("model.norm.weight", (h,)), ("lm_head.weight", (SHAPE["vocab"], h))]
    header, off = {}, 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(root / "model.safetensors", "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for _name, shape in tensors:
            out.write(
                bf16(rng, shape) if len(shape) == 2 else np.full(shape, 0x3F80, np.uint16).tobytes()
            )
        os.fsync(out.fileno())
    (root / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "architectures": ["LlamaForCausalLM"],
                "hidden_size": h,
                "intermediate_size": f,
                "num_hidden_layers": SHAPE["layers"],
                "num_attention_heads": SHAPE["heads"],
                "num_key_value_heads": SHAPE["kv"],
                "vocab_size": SHAPE["vocab"],
                "tie_word_embeddings": False,
            }
        )
    )
    vocab = {chr(c) if 0x21 <= c <= 0x7E else f"<0x{c:02X}>": c for c in range(256)}
    vocab["\u2581"] = 0x20
    vocab.update({f"\u2581tok{i}": 256 + i for i in range(SHAPE["vocab"] - 256)})
    (root / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "BPE", "vocab": vocab, "merges": []}})
    )
    return sum(p.stat().st_size for p in root.iterdir())


def read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def evict(root: Path) -> None:
    for p in root.iterdir():
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> int:
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        root = Path(tmp)
        total = write_model(root)
        evict(root)
        r0, t0 = read_bytes(), time.perf_counter()
        fp = fingerprint(root)
        cold, got = time.perf_counter() - t0, read_bytes() - r0
        t0 = time.perf_counter()
        fingerprint(root)
        warm = time.perf_counter() - t0
    assert fp.n_layers == SHAPE["layers"]
    print("### Lineage: fingerprinting throughput\n")
    print(
        f"A TinyLlama-1.1B-shaped BF16 folder of {total / 1e9:.2f} GB (random weights), "
        f"{os.cpu_count()} cores. Bytes read are what the process pulled from the disk.\n"
    )
    print("| folder (GB) | cold (s) | warm (s) | read from disk (GB) | share of the folder |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {total / 1e9:.2f} | {cold:.1f} | {warm:.1f} | {got / 1e9:.2f} | {got / total:.0%} |")
    scale = 70e9 / 1.1e9
    print(
        f"\nScaled linearly by parameters (reads and matrix products both grow with them), a 70B "
        f"model would take about {cold * scale / 60:.0f} minutes cold on this machine.\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
