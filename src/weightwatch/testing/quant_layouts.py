"""Quantized copies of a tiny model in the layouts the Hub's quantizers write.

bitsandbytes copies are made by bitsandbytes itself (``quantize_4bit`` /
``int8_vectorwise_quant``, saved the way its ``Linear4bit``/``Linear8bitLt`` state dicts
are); FP8 copies by torch's ``float8_e4m3fn`` and safetensors. GPTQ and AWQ kernels need
CUDA, so those copies are packed here by round-to-nearest quantization into the byte
layouts documented in ``weightwatch.artifacts.quantized`` (AutoGPTQ's ``pack`` and
AutoAWQ's GEMM ``pack``, reimplemented in NumPy). Every Linear weight of every layer is
quantized; embeddings, norms and the output head stay float, as those tools leave them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
F32 = npt.NDArray[np.float32]


def _is_linear(name: str) -> bool:
    return name.endswith(".weight") and any(f".{p}." in name for p in _LINEAR)


def _load(base: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    return dict(load_file(str(base / "model.safetensors")))


def _finish(base: Path, out: Path, tensors: dict[str, Any], qc: dict[str, Any] | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for f in base.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copyfile(f, out / f.name)
    if qc is not None:
        cfg = json.loads((out / "config.json").read_text())
        cfg["quantization_config"] = qc
        (out / "config.json").write_text(json.dumps(cfg, indent=2))
    return out


def _rtn(w: F32, groups: npt.NDArray[np.int64], n_groups: int) -> tuple[Any, Any, Any]:
    """Asymmetric 4-bit round-to-nearest per (group of input columns, output row).

    ``w`` is ``[out, in]``; returns codes ``[in, out]``, scales and zeros ``[groups, out]``.
    """
    wt = w.T.astype(np.float32)  # [in, out]
    scales = np.zeros((n_groups, w.shape[0]), dtype=np.float32)
    zeros = np.zeros((n_groups, w.shape[0]), dtype=np.int64)
    for g in range(n_groups):
        rows = wt[groups == g]
        lo, hi = np.minimum(rows.min(axis=0), 0), np.maximum(rows.max(axis=0), 0)
        s = np.where(hi > lo, (hi - lo) / 15.0, 1e-8)
        scales[g] = s
        zeros[g] = np.clip(np.round(-lo / s), 1, 15)  # >= 1: v1 stores zero - 1
    s16 = scales.astype(np.float16).astype(np.float32)
    codes = np.clip(np.round(wt / s16[groups]) + zeros[groups], 0, 15).astype(np.uint32)
    return codes, scales.astype(np.float16), zeros


def _pack_rows(codes: Any) -> Any:
    """AutoGPTQ ``pack``: eight rows of ``[in, out]`` codes into one int32 row."""
    n_in, n_out = codes.shape
    q = np.zeros((n_in // 8, n_out), dtype=np.uint32)
    for j in range(8):
        q |= codes[j::8].astype(np.uint32) << np.uint32(4 * j)
    return q.view(np.int32)


def _pack_cols(values: Any, order: tuple[int, ...] = tuple(range(8))) -> Any:
    """Eight columns into one int32 column; slot ``i`` holds column ``order[i]``."""
    r, c = values.shape
    q = np.zeros((r, c // 8), dtype=np.uint32)
    for i, col in enumerate(order):
        q |= (values[:, col::8].astype(np.uint32) & 0xF) << np.uint32(4 * i)
    return q.view(np.int32)


def write_gptq(base: Path, out: Path, *, group_size: int = 64, act_order: bool = True) -> Path:
    """GPTQ v1 (AutoGPTQ's format): ``qweight``/``qzeros``/``scales``/``g_idx``."""
    rng = np.random.default_rng(0)
    tensors: dict[str, Any] = {}
    for name, w in _load(base).items():
        if not _is_linear(name):
            tensors[name] = w
            continue
        prefix = name[: -len(".weight")]
        n_in = w.shape[1]
        order = rng.permutation(n_in) if act_order else np.arange(n_in)
        g_idx = np.empty(n_in, dtype=np.int64)
        g_idx[order] = np.arange(n_in) // group_size  # act-order: groups by column rank
        codes, scales, zeros = _rtn(w, g_idx, n_in // group_size)
        tensors[f"{prefix}.qweight"] = _pack_rows(codes)
        tensors[f"{prefix}.qzeros"] = _pack_cols(zeros - 1)
        tensors[f"{prefix}.scales"] = scales
        tensors[f"{prefix}.g_idx"] = g_idx.astype(np.int32)
    _save(tensors, out)
    qc = {
        "quant_method": "gptq",
        "bits": 4,
        "group_size": group_size,
        "desc_act": act_order,
        "checkpoint_format": "gptq",
        "sym": False,
    }
    return _finish(base, out, tensors, qc)


def write_awq(base: Path, out: Path, *, group_size: int = 64) -> Path:
    """AWQ GEMM (AutoAWQ's format): columns packed in the order 0,2,4,6,1,3,5,7."""
    tensors: dict[str, Any] = {}
    awq_order = (0, 2, 4, 6, 1, 3, 5, 7)
    for name, w in _load(base).items():
        if not _is_linear(name):
            tensors[name] = w
            continue
        prefix = name[: -len(".weight")]
        n_in = w.shape[1]
        groups = np.arange(n_in) // group_size
        codes, scales, zeros = _rtn(w, groups, n_in // group_size)
        tensors[f"{prefix}.qweight"] = _pack_cols(codes, awq_order)
        tensors[f"{prefix}.qzeros"] = _pack_cols(zeros, awq_order)
        tensors[f"{prefix}.scales"] = scales
    _save(tensors, out)
    qc = {
        "quant_method": "awq",
        "bits": 4,
        "group_size": group_size,
        "version": "gemm",
        "zero_point": True,
    }
    return _finish(base, out, tensors, qc)


def write_bnb(base: Path, out: Path, *, kind: str = "nf4") -> Path:
    """bitsandbytes 4-bit (``nf4``/``fp4``, double-quantized) or 8-bit (``int8``)."""
    import bitsandbytes.functional as bnbf
    import torch

    tensors: dict[str, Any] = {}
    for name, w in _load(base).items():
        if not _is_linear(name):
            tensors[name] = w
            continue
        t = torch.from_numpy(np.array(w, dtype=np.float32))
        if kind == "int8":
            cb, scb, _ = bnbf.int8_vectorwise_quant(t.half())
            tensors[name] = cb.numpy()
            tensors[name[: -len("weight")] + "SCB"] = scb.float().numpy()
            tensors[name + "_format"] = np.array([0], dtype=np.uint8)
            continue
        q, state = bnbf.quantize_4bit(t, blocksize=64, quant_type=kind, compress_statistics=True)
        tensors[name] = q.numpy()
        for key, v in state.as_dict(packed=True).items():
            tensors[f"{name}.{key}"] = v.numpy()
    _save(tensors, out)
    qc = {
        "quant_method": "bitsandbytes",
        "load_in_4bit": kind != "int8",
        "load_in_8bit": kind == "int8",
        "bnb_4bit_quant_type": kind,
    }
    return _finish(base, out, tensors, qc)


def write_fp8(base: Path, out: Path, *, block: int | None = None) -> Path:
    """FP8 E4M3 weights with a per-tensor ``weight_scale`` or, with ``block``, a per-block
    ``weight_scale_inv`` (DeepSeek-V3 style), written by torch and safetensors."""
    import torch
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    for name, w in _load(base).items():
        t = torch.from_numpy(np.array(w, dtype=np.float32))
        if not _is_linear(name):
            tensors[name] = t
            continue
        if block is None:
            scale = t.abs().max() / 448.0
            tensors[name] = (t / scale).to(torch.float8_e4m3fn)
            tensors[name + "_scale"] = scale.reshape(())
            continue
        r, c = t.shape
        s = torch.zeros((-(-r // block), -(-c // block)))
        q = torch.empty_like(t)
        for i in range(s.shape[0]):
            for j in range(s.shape[1]):
                blk = t[i * block : (i + 1) * block, j * block : (j + 1) * block]
                s[i, j] = blk.abs().max().clamp(min=1e-12) / 448.0
                q[i * block : (i + 1) * block, j * block : (j + 1) * block] = blk / s[i, j]
        tensors[name] = q.to(torch.float8_e4m3fn)
        tensors[name + "_scale_inv"] = s
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"))
    qc = {"quant_method": "fp8", "fmt": "e4m3"}
    if block is not None:
        qc["weight_block_size"] = [block, block]  # type: ignore[assignment]
    return _finish(base, out, tensors, qc)


def _save(tensors: dict[str, Any], out: Path) -> None:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(out / "model.safetensors")
    )
