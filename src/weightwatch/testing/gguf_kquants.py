"""GGUF K-quant (Q4_K, Q6_K) copies of a tiny Llama, for tests and benchmarks.

The ``gguf`` package dequantizes every K-quant but quantizes none, and llama.cpp is not
installed, so the blocks are packed here by a plain (not error-optimal) quantizer into
ggml's documented block layouts (``ggml-common.h``): 256 values a block,

- ``block_q4_K``: ``d`` F16, ``dmin`` F16, ``scales[12]`` (eight 6-bit scales and eight
  6-bit mins), ``qs[128]`` (two 4-bit codes a byte: value ``64c + l`` low, ``64c+32+l``
  high); value = ``d * sc[j] * q - dmin * m[j]`` for sub-block ``j`` of 32.
- ``block_q6_K``: ``ql[128]`` (low 4 bits), ``qh[64]`` (high 2 bits), ``scales[16]`` int8,
  ``d`` F16; value = ``d * scales[s] * (q - 32)`` for sub-block ``s`` of 16.

The test then reads them back with ``gguf``'s own dequantizer, so a packing mistake here
fails there. Rows must be multiples of 256 (llama.cpp falls back to another type
otherwise); 1-D norms stay F32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

QK = 256
U8 = npt.NDArray[np.uint8]


def _f16_bytes(x: npt.NDArray[Any]) -> U8:
    return np.asarray(x, dtype="<f2").reshape(-1, 1).view(np.uint8)


def quantize_q4_k(w: npt.NDArray[np.float32]) -> U8:
    """``[rows, cols]`` float32 -> ``[rows, cols // 256 * 144]`` bytes of ``block_q4_K``."""
    rows, cols = w.shape
    x = w.reshape(-1, 8, 32).astype(np.float64)  # blocks, sub-blocks, values
    lo = np.minimum(x.min(axis=2), 0.0)
    hi = x.max(axis=2)
    scale = np.where(hi > lo, (hi - lo) / 15.0, 1e-12)
    mins = -lo
    d = np.maximum(scale.max(axis=1), 1e-12) / 63.0
    dmin = np.maximum(mins.max(axis=1), 1e-12) / 63.0
    d16, dmin16 = (
        d.astype(np.float16).astype(np.float64),
        dmin.astype(np.float16).astype(np.float64),
    )
    sc = np.clip(np.round(scale / d16[:, None]), 1, 63).astype(np.uint8)
    m = np.clip(np.round(mins / dmin16[:, None]), 0, 63).astype(np.uint8)
    eff_s = d16[:, None] * sc
    eff_m = dmin16[:, None] * m
    q = np.clip(np.round((x + eff_m[:, :, None]) / eff_s[:, :, None]), 0, 15).astype(np.uint8)
    scales = np.zeros((x.shape[0], 12), dtype=np.uint8)
    scales[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    scales[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    scales[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    flat = q.reshape(-1, 4, 64)  # 64-value chunks: low nibbles l, high nibbles 32 + l
    qs = (flat[:, :, :32] | (flat[:, :, 32:] << 4)).reshape(-1, 128)
    blocks = np.concatenate([_f16_bytes(d16), _f16_bytes(dmin16), scales, qs], axis=1)
    return np.ascontiguousarray(blocks.reshape(rows, cols // QK * 144))


def quantize_q6_k(w: npt.NDArray[np.float32]) -> U8:
    """``[rows, cols]`` float32 -> ``[rows, cols // 256 * 210]`` bytes of ``block_q6_K``."""
    rows, cols = w.shape
    x = w.reshape(-1, 16, 16).astype(np.float64)  # blocks, sub-blocks of 16
    amax = np.maximum(np.abs(x).max(axis=2), 1e-12)
    sub = amax / 31.0
    d = np.maximum(sub.max(axis=1), 1e-12) / 127.0
    d16 = d.astype(np.float16).astype(np.float64)
    sc = np.clip(np.round(sub / d16[:, None]), 1, 127).astype(np.int8)
    eff = d16[:, None] * sc
    q = (np.clip(np.round(x / eff[:, :, None]), -32, 31) + 32).astype(np.uint8).reshape(-1, QK)
    ql = np.zeros((q.shape[0], 128), dtype=np.uint8)
    qh = np.zeros((q.shape[0], 64), dtype=np.uint8)
    for half in range(2):
        v = q[:, half * 128 : (half + 1) * 128]
        a, b, c, e = v[:, 0:32], v[:, 32:64], v[:, 64:96], v[:, 96:128]
        ql[:, half * 64 : half * 64 + 32] = (a & 0xF) | ((c & 0xF) << 4)
        ql[:, half * 64 + 32 : half * 64 + 64] = (b & 0xF) | ((e & 0xF) << 4)
        qh[:, half * 32 : half * 32 + 32] = (
            (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6)
        )
    blocks = np.concatenate([ql, qh, sc.view(np.uint8), _f16_bytes(d16)], axis=1)
    return np.ascontiguousarray(blocks.reshape(rows, cols // QK * 210))


def export_gguf_k(model: Any, tokenizer_dir: Path, out: Path, *, qtype: str) -> Path:
    """Like ``gguf_export.export_gguf`` with ``qtype`` ``Q4_K`` or ``Q6_K`` for 2-D weights."""
    import gguf

    from weightwatch.testing.gguf_export import finish, llama_tensors, llama_writer

    pack = {"Q4_K": quantize_q4_k, "Q6_K": quantize_q6_k}[qtype]
    kind = getattr(gguf.GGMLQuantizationType, qtype)
    file_type = {"Q4_K": 15, "Q6_K": 18}[qtype]
    w = llama_writer(model, tokenizer_dir, out, name=f"tiny-llama-{qtype}", file_type=file_type)
    for gg_name, arr in llama_tensors(model):
        if arr.ndim == 1 or arr.shape[-1] % QK:
            w.add_tensor(gg_name, arr if arr.ndim == 1 else arr.astype(np.float16))
        else:
            w.add_tensor(gg_name, pack(arr), raw_dtype=kind)
    return finish(w, out)
