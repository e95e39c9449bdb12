"""Quantized safetensors layouts, folded into one logical weight per layer.

The Hub's quantizers store a Linear weight ``W [out, in]`` as several tensors. To see the
weights (fingerprint, lineage, parameter counts) each group is folded into one lazy
``Tensor`` named ``<prefix>.weight`` whose ``to_float32()`` dequantizes it; the stored
tensors stay readable through ``Artifact.iter_tensors``. Layouts (as their producers
write them; int4 values are packed eight to an int32, lowest bits first):

- **GPTQ** (AutoGPTQ / GPTQModel / optimum, ``quant_method: gptq``): ``qweight`` I32
  ``[in/8, out]`` packed along ``in``; ``qzeros`` I32 ``[groups, out/8]`` packed along
  ``out``; ``scales`` F16 ``[groups, out]``; ``g_idx`` I32 ``[in]`` (group of each input
  column; absent means ``i // group_size``). ``W[o, i] = scales[g, o] * (q[i, o] - z[g, o])``
  with ``z`` stored minus one (``checkpoint_format: gptq``, v1) or as is (``gptq_v2``).
- **AWQ** (AutoAWQ GEMM, ``quant_method: awq``): ``qweight`` I32 ``[in, out/8]`` and
  ``qzeros`` I32 ``[groups, out/8]``, packed along ``out`` in the order 0,2,4,6,1,3,5,7;
  ``scales`` F16 ``[groups, out]``; ``W[o, i] = scales[i // gs, o] * (q[i, o] - z[i // gs, o])``.
- **bitsandbytes 8-bit** (LLM.int8): ``weight`` I8 ``[out, in]`` and ``SCB`` F32 ``[out]``;
  ``W = weight * SCB[:, None] / 127``.
- **bitsandbytes 4-bit** (NF4/FP4): ``weight`` U8 ``[n/2, 1]`` (two codes a byte, the
  first in the high nibble), ``weight.absmax`` F32 ``[n/blocksize]`` (or U8 with
  ``weight.nested_absmax``/``weight.nested_quant_map`` and ``nested_offset``: double
  quantization), ``weight.quant_map`` F32 ``[16]`` and a
  ``weight.quant_state.bitsandbytes__nf4``/``__fp4`` U8 JSON blob with ``shape`` and
  ``blocksize``. ``W = quant_map[code] * absmax[block]``.
- **FP8** (``F8_E4M3``/``F8_E5M2`` weight) with ``weight_scale`` (per tensor, per row) or
  ``weight_scale_inv`` (per 128x128 block, DeepSeek-V3 style): ``W = fp8 * scale``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.model import Tensor, TensorInfo, fp8_to_f32
from weightwatch.errors import ArtifactError

F32 = npt.NDArray[np.float32]
_AWQ_ORDER = np.array([0, 4, 1, 5, 2, 6, 3, 7])  # position in the int32 of nibble k
_BNB_STATE = ("weight.quant_state.bitsandbytes__nf4", "weight.quant_state.bitsandbytes__fp4")


def fold_quantized(
    tensors: tuple[Tensor, ...], quant_config: Mapping[str, Any] | None
) -> tuple[Tensor, ...]:
    """``tensors`` with every recognised quantized group replaced by one logical weight."""
    by_name = {t.name: t for t in tensors}
    qc = dict(quant_config or {})
    consumed: set[str] = set()
    logical: list[Tensor] = []
    for t in tensors:
        name = t.name
        if name in consumed:
            continue
        folded: tuple[Tensor, set[str]] | None = None
        if name.endswith(".qweight"):
            folded = _int4_group(name[: -len(".qweight")], by_name, qc)
        elif name.endswith(".SCB"):
            folded = _bnb8(name[: -len(".SCB")], by_name)
        elif any(name.endswith("." + s) for s in _BNB_STATE):
            folded = _bnb4(name.split(".weight.quant_state.")[0], by_name)
        elif name.endswith((".weight_scale", ".weight_scale_inv")):
            folded = _fp8(name.rsplit(".", 1)[0], by_name)
        if folded is not None:
            tensor, used = folded
            consumed |= used
            logical.append(tensor)
    if not consumed:
        return tensors
    rest = [t for t in tensors if t.name not in consumed]
    return tuple(rest + logical)


def _logical(
    name: str, shape: tuple[int, int], dtype: str, parts: list[Tensor], f: Callable[[], F32]
) -> Tensor:
    """A ``<prefix>.weight`` whose data and float32 form are the dequantized matrix."""
    nbytes = sum(p.info.nbytes for p in parts)
    info = TensorInfo(name, dtype, shape, parts[0].info.file, nbytes)

    def load() -> F32:
        w = f()
        if w.shape != shape:
            raise ArtifactError(info.file, f"{name!r}: {dtype} tensors do not make {shape}")
        return w

    return Tensor(info, load, lambda raw: np.asarray(raw, dtype=np.float32))


def _unpack_rows(packed: npt.NDArray[Any]) -> npt.NDArray[np.int32]:
    """int32 ``[r, c]`` -> nibbles ``[r * 8, c]``: element ``r*8 + k`` from bits ``4k``."""
    p = packed.astype(np.uint32)
    shifts = (np.arange(8, dtype=np.uint32) * 4)[None, :, None]
    return ((p[:, None, :] >> shifts) & 0xF).reshape(-1, p.shape[1]).astype(np.int32)


def _unpack_cols(packed: npt.NDArray[Any], order: npt.NDArray[Any] | None = None) -> Any:
    """int32 ``[r, c]`` -> nibbles ``[r, c * 8]``; ``order[k]`` is the slot of column k."""
    p = packed.astype(np.uint32)
    slots = np.arange(8) if order is None else order
    shifts = (slots.astype(np.uint32) * 4)[None, None, :]
    return ((p[:, :, None] >> shifts) & 0xF).reshape(p.shape[0], -1).astype(np.int32)


def _int4_group(
    prefix: str, by: Mapping[str, Tensor], qc: Mapping[str, Any]
) -> tuple[Tensor, set[str]] | None:
    qweight, qzeros, scales = (by.get(f"{prefix}.{s}") for s in ("qweight", "qzeros", "scales"))
    if qweight is None or qzeros is None or scales is None or len(scales.shape) != 2:
        return None
    g_idx = by.get(f"{prefix}.g_idx")
    groups, out = scales.shape
    method = str(qc.get("quant_method", "")).lower()
    awq = method == "awq" or (g_idx is None and qweight.shape[1] * 8 == out and method != "gptq")
    used = {qweight.name, qzeros.name, scales.name} | ({g_idx.name} if g_idx else set())
    if awq:
        n_in = qweight.shape[0]

        def awq_f32() -> F32:
            q = _unpack_cols(qweight.data(), _AWQ_ORDER)
            z = _unpack_cols(qzeros.data(), _AWQ_ORDER)
            s = scales.to_float32()
            g = np.arange(n_in) // max(1, n_in // groups)
            w: F32 = ((q - z[g]) * s[g]).T.astype(np.float32)
            return w

        t = _logical(f"{prefix}.weight", (out, n_in), "AWQ_I4", [qweight, qzeros, scales], awq_f32)
        return t, used
    n_in = qweight.shape[0] * 8
    offset = 0 if str(qc.get("checkpoint_format", "gptq")).lower() == "gptq_v2" else 1

    def gptq_f32() -> F32:
        q = _unpack_rows(qweight.data())  # [in, out]
        z = _unpack_cols(qzeros.data())[:, :out] + offset  # [groups, out]
        s = scales.to_float32()
        g = (
            np.asarray(g_idx.data(), dtype=np.int64)
            if g_idx is not None
            else np.arange(n_in) // max(1, n_in // groups)
        )
        if g.shape != (n_in,) or (g.size and (g.min() < 0 or g.max() >= groups)):
            raise ArtifactError(qweight.info.file, f"{prefix}.g_idx does not index {groups} groups")
        w: F32 = ((q - z[g]) * s[g]).T.astype(np.float32)
        return w

    parts = [qweight, qzeros, scales] + ([g_idx] if g_idx else [])
    return _logical(f"{prefix}.weight", (out, n_in), "GPTQ_I4", parts, gptq_f32), used


def _bnb8(prefix: str, by: Mapping[str, Tensor]) -> tuple[Tensor, set[str]] | None:
    w, scb = by.get(f"{prefix}.weight"), by.get(f"{prefix}.SCB")
    if w is None or scb is None or w.dtype != "I8" or len(w.shape) != 2:
        return None
    used = {w.name, scb.name}
    fmt = by.get(f"{prefix}.weight_format")
    if fmt is not None:
        used.add(fmt.name)

    def f() -> F32:
        return (w.data().astype(np.float32) * (scb.to_float32()[:, None] / 127.0)).astype(
            np.float32
        )

    shape = (int(w.shape[0]), int(w.shape[1]))
    return _logical(w.name, shape, "BNB_I8", [w, scb], f), used


def _bnb4(prefix: str, by: Mapping[str, Tensor]) -> tuple[Tensor, set[str]] | None:
    w = by.get(f"{prefix}.weight")
    absmax, qmap = by.get(f"{prefix}.weight.absmax"), by.get(f"{prefix}.weight.quant_map")
    state_t = next((by[f"{prefix}.{s}"] for s in _BNB_STATE if f"{prefix}.{s}" in by), None)
    if w is None or absmax is None or qmap is None or state_t is None:
        return None
    where = w.info.file
    try:
        state = json.loads(bytes(state_t.data().tobytes()).decode("utf-8"))
        shape = tuple(int(d) for d in state["shape"])
        blocksize = int(state.get("blocksize", 64))
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(where, f"{state_t.name!r}: unreadable quant state: {exc}") from exc
    if len(shape) != 2 or blocksize <= 0:
        raise ArtifactError(where, f"{state_t.name!r}: shape {shape} is not a matrix")
    nested = [by.get(f"{prefix}.weight.nested_{s}") for s in ("absmax", "quant_map")]
    used = {w.name, absmax.name, qmap.name, state_t.name} | {t.name for t in nested if t}

    def f() -> F32:
        packed = np.asarray(w.data(), dtype=np.uint8).reshape(-1)
        codes = np.empty(packed.size * 2, dtype=np.uint8)
        codes[0::2], codes[1::2] = packed >> 4, packed & 0xF
        n = shape[0] * shape[1]
        scale = _bnb_absmax(absmax, nested[0], nested[1], state)
        blocks = np.arange(n) // blocksize
        if codes.size < n or blocks[-1] >= scale.size:
            raise ArtifactError(where, f"{w.name!r}: too few codes or scales for {shape}")
        vals = qmap.to_float32()[codes[:n]] * scale[blocks]
        return vals.reshape(shape).astype(np.float32)

    return _logical(w.name, (shape[0], shape[1]), "BNB_4BIT", [w, absmax, qmap], f), used


def _bnb_absmax(
    absmax: Tensor, nested_absmax: Tensor | None, nested_map: Tensor | None, state: Any
) -> F32:
    if nested_absmax is None or nested_map is None:
        return absmax.to_float32().reshape(-1)
    codes = np.asarray(absmax.data(), dtype=np.uint8).reshape(-1)
    nb = int(state.get("nested_blocksize", 256)) if isinstance(state, dict) else 256
    scales = nested_absmax.to_float32().reshape(-1)
    blocks = np.arange(codes.size) // max(1, nb)
    offset = float(state.get("nested_offset", 0.0)) if isinstance(state, dict) else 0.0
    out: F32 = (nested_map.to_float32()[codes] * scales[blocks] + offset).astype(np.float32)
    return out


def _fp8(prefix: str, by: Mapping[str, Tensor]) -> tuple[Tensor, set[str]] | None:
    w = by.get(f"{prefix}.weight")
    scale = by.get(f"{prefix}.weight_scale") or by.get(f"{prefix}.weight_scale_inv")
    if w is None or scale is None or w.dtype not in ("F8_E4M3", "F8_E5M2") or len(w.shape) != 2:
        return None
    rows, cols = int(w.shape[0]), int(w.shape[1])
    used = {w.name, scale.name}
    inp = by.get(f"{prefix}.input_scale")
    if inp is not None:
        used.add(inp.name)

    def f() -> F32:
        v = fp8_to_f32(np.asarray(w.data(), dtype=np.uint8), w.dtype)
        s = scale.to_float32()
        if s.size == 1:
            return (v * float(s.reshape(-1)[0])).astype(np.float32)
        if s.shape in ((rows,), (rows, 1)):
            return (v * s.reshape(rows, 1)).astype(np.float32)
        if s.ndim == 2:  # per block: ceil(rows / br) x ceil(cols / bc)
            br, bc = -(-rows // s.shape[0]), -(-cols // s.shape[1])
            full = np.repeat(np.repeat(s, br, axis=0), bc, axis=1)[:rows, :cols]
            return (v * full).astype(np.float32)
        raise ArtifactError(w.info.file, f"{scale.name!r}: scale shape {s.shape} fits no layout")

    return _logical(w.name, (rows, cols), w.dtype, [w, scale], f), used
