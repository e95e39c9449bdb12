"""GGUF block dequantization at memory speed: the ``gguf`` package's arithmetic, cache-sized.

``gguf.quants`` dequantizes 16 rows at a time and builds half a dozen full-size
temporaries per call (about 50 M values/s here). The kernels below compute the very same
float32 operations in the same order — so every value is bit-identical, which a test
checks against ``gguf.quants`` for each type — but over chunks of blocks small enough to
stay in the CPU cache, writing into one preallocated output. The common llama.cpp types
(Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) have a kernel; any other type falls back to
``gguf.quants``.

Where llama-cpp-python is installed (the ``gguf`` extra), ggml's own row dequantizers
(``dequantize_row_*`` in its ``libggml-base``, called through ``ctypes``) do the work
instead, 2-3x faster again — but only for a type whose output matched ours bit for bit
(NaN payloads included) on a probe of random blocks in this process, so a different
build of ggml can only fall back, never change a value.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from weightwatch.artifacts.model import Tensor

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
CHUNK_VALUES = 1 << 16  # values dequantized per step: 256 KiB of float32 stays in L2
ROW_CHUNK_VALUES = 1 << 20  # values per row block handed to callers (4 MB of float32)
_SLICEABLE = frozenset({"F32", "F16", "BF16", "F64"})

# type name -> (values per block, bytes per block), as in gguf.GGML_QUANT_SIZES
_SIZES = {
    "Q4_0": (32, 18),
    "Q4_1": (32, 20),
    "Q5_0": (32, 22),
    "Q8_0": (32, 34),
    "Q4_K": (256, 144),
    "Q6_K": (256, 210),
}


def _f16(col: U8) -> F32:
    """Little-endian float16 bytes [n, 2] -> float32 [n, 1]."""
    return np.ascontiguousarray(col).view("<f2").astype(np.float32)


def _q8_0(b: U8, o: F32) -> None:
    d = _f16(b[:, :2])
    np.copyto(o, b[:, 2:].view(np.int8), casting="unsafe")
    o *= d


def _nibbles(qs: U8, o: F32, width: int) -> None:
    """Low nibbles of each group of ``width`` bytes, then its high nibbles, as float32."""
    n = qs.shape[0]
    g = qs.reshape(n, -1, 1, width)
    v = o.reshape(n, -1, 2, width)
    np.copyto(v[:, :, 0:1, :], g & np.uint8(0x0F), casting="unsafe")
    np.copyto(v[:, :, 1:2, :], g >> np.uint8(4), casting="unsafe")


def _q4_0(b: U8, o: F32) -> None:
    d = _f16(b[:, :2])
    _nibbles(b[:, 2:], o, 16)
    o -= np.float32(8)  # gguf: int8(q) - 8, exact in float32 either way
    o *= d


def _q4_1(b: U8, o: F32) -> None:
    d, m = _f16(b[:, :2]), _f16(b[:, 2:4])
    _nibbles(b[:, 4:], o, 16)
    o *= d
    o += m


def _q5_0(b: U8, o: F32) -> None:
    n = b.shape[0]
    d = _f16(b[:, :2])
    qh = np.ascontiguousarray(b[:, 2:6]).view("<u4")  # [n, 1]
    bits = ((qh >> np.arange(32, dtype=np.uint32)) & np.uint32(1)).astype(np.uint8) << 4
    ql = np.empty((n, 32), dtype=np.uint8)
    g = b[:, 6:].reshape(n, 1, 16)
    ql.reshape(n, 2, 16)[:, 0:1, :] = g & np.uint8(0x0F)
    ql.reshape(n, 2, 16)[:, 1:2, :] = g >> np.uint8(4)
    ql |= bits
    np.copyto(o, ql.view(np.int8), casting="unsafe")
    o -= np.float32(16)
    o *= d


def _k_scales(s: U8) -> tuple[U8, U8]:
    """Q4_K's twelve packed scale bytes -> 8 six-bit scales and 8 six-bit mins."""
    n = s.shape[0]
    s = s.reshape(n, 3, 4)
    d, m, md = s[:, 0], s[:, 1], s[:, 2]
    sc = np.concatenate([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], axis=-1)
    mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return sc, mn


def _q4_k(b: U8, o: F32) -> None:
    n = b.shape[0]
    d, dmin = _f16(b[:, :2]), _f16(b[:, 2:4])
    sc, mn = _k_scales(b[:, 4:16])
    ds = (d * sc.astype(np.float32)).reshape(n, 8, 1)
    dm = (dmin * mn.astype(np.float32)).reshape(n, 8, 1)
    _nibbles(b[:, 16:], o, 32)
    v = o.reshape(n, 8, 32)
    v *= ds
    v -= dm


def _q6_k(b: U8, o: F32) -> None:
    n = b.shape[0]
    ql, qh = b[:, :128], b[:, 128:192]
    scales = b[:, 192:208].view(np.int8).astype(np.float32)
    d = (_f16(b[:, 208:210]) * scales).reshape(n, 16, 1)
    lo = np.empty((n, 256), dtype=np.uint8)
    g = ql.reshape(n, 2, 1, 64)
    lo.reshape(n, 2, 2, 64)[:, :, 0:1, :] = g & np.uint8(0x0F)
    lo.reshape(n, 2, 2, 64)[:, :, 1:2, :] = g >> np.uint8(4)
    h = qh.reshape(n, 2, 1, 32) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    lo.reshape(n, 2, 4, 32)[...] |= (h & np.uint8(0x03)) << np.uint8(4)
    q = lo.reshape(n, 8, 32).view(np.int8)
    np.copyto(o.reshape(n, 8, 32), q, casting="unsafe")
    o -= np.float32(32)
    o.reshape(n, 16, 16)[...] *= d


_KERNELS: dict[str, Callable[[U8, F32], None]] = {
    "Q4_0": _q4_0,
    "Q4_1": _q4_1,
    "Q5_0": _q5_0,
    "Q8_0": _q8_0,
    "Q4_K": _q4_k,
    "Q6_K": _q6_k,
}


def has_kernel(dtype: str) -> bool:
    """A numpy kernel here (ggml, where present, may serve other types too)."""
    return dtype in _KERNELS


def dequantize(raw: npt.NDArray[np.uint8], dtype: str) -> F32:
    """Blocks of ``dtype`` (any shape whose last axis is whole blocks) -> float32 values,
    shaped ``[..., values per row]``; bit-identical to ``gguf.quants.dequantize``."""
    fast = _ggml_row(dtype)
    if fast is not None:
        per_block, nbytes = _block_size(dtype)
        u8 = np.ascontiguousarray(raw.view(np.uint8))
        if u8.shape[-1] % nbytes:
            raise ValueError(f"rows of {u8.shape[-1]} bytes are not whole {dtype} blocks")
        out = np.empty(u8.size // nbytes * per_block, dtype=np.float32)
        fast(u8.ctypes.data, out.ctypes.data, out.size)
        return out.reshape(*u8.shape[:-1], u8.shape[-1] // nbytes * per_block)
    return _dequantize_numpy(raw, dtype)


def _dequantize_numpy(raw: npt.NDArray[np.uint8], dtype: str) -> F32:
    kernel = _KERNELS.get(dtype)
    if kernel is None:
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize as _deq

        return np.asarray(_deq(raw, GGMLQuantizationType[dtype]), dtype=np.float32)
    per_block, nbytes = _SIZES[dtype]
    u8 = raw.view(np.uint8)
    if u8.shape[-1] % nbytes:
        raise ValueError(f"rows of {u8.shape[-1]} bytes are not whole {dtype} blocks")
    blocks = u8.reshape(-1, nbytes)
    out = np.empty((blocks.shape[0], per_block), dtype=np.float32)
    step = max(1, CHUNK_VALUES // per_block)
    for a in range(0, blocks.shape[0], step):
        kernel(blocks[a : a + step], out[a : a + step])
    return out.reshape(*u8.shape[:-1], u8.shape[-1] // nbytes * per_block)


def _block_size(dtype: str) -> tuple[int, int]:
    if dtype in _SIZES:
        return _SIZES[dtype]
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    per_block, nbytes = GGML_QUANT_SIZES[GGMLQuantizationType[dtype]]
    return int(per_block), int(nbytes)


_Row = Callable[[int, int, int], None]  # (blocks address, float32 output address, values)


@functools.cache
def _ggml() -> ctypes.CDLL | None:
    """llama-cpp-python's ``libggml-base``, where it is installed (located, not imported)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
            lib = Path(folder) / "lib" / name
            if lib.is_file():
                try:
                    return ctypes.CDLL(str(lib))
                except OSError:
                    return None
    return None


@functools.cache
def _ggml_row(dtype: str) -> _Row | None:
    """ggml's row dequantizer for ``dtype`` if it reproduces ours bit for bit, else None."""
    if dtype not in _KERNELS and dtype not in _GGML_ONLY:
        return None
    lib = _ggml()
    name = "dequantize_row_" + dtype.lower().replace("_k", "_K")
    fn = getattr(lib, name, None) if lib is not None else None
    if fn is None:
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    return checked(fn, dtype)


def checked(row: _Row, dtype: str) -> _Row | None:
    """``row`` if it dequantizes 2048 random ``dtype`` blocks (every scale and code,
    infinities and NaNs among them) to exactly our bits, else ``None``."""
    per_block, nbytes = _block_size(dtype)
    probe = np.random.default_rng(0x6E6D).integers(0, 256, 2048 * nbytes, dtype=np.uint8)
    with np.errstate(all="ignore"):
        want = _dequantize_numpy(probe.reshape(1, -1), dtype).reshape(-1)
    got = np.empty(2048 * per_block, dtype=np.float32)
    row(probe.ctypes.data, got.ctypes.data, got.size)
    return row if np.array_equal(got.view(np.uint32), want.view(np.uint32)) else None


# Types without a numpy kernel here, which ggml dequantizes far faster than gguf.quants.
_GGML_ONLY = frozenset({"Q5_1", "Q2_K", "Q3_K", "Q5_K"})


def chunked(t: Tensor) -> bool:
    """Whether ``row_chunks`` reads ``t`` in row blocks (2-D float or GGUF-block rows)."""
    return len(t.shape) == 2 and (t.dtype in _SLICEABLE or has_kernel(t.dtype))


def row_chunks(t: Tensor) -> Iterator[tuple[int, F32]]:
    """(first row, float32 rows) of a 2-D tensor, a few MB at a time, straight from its
    mapped file: float rows are sliced, GGUF rows (whole blocks) dequantized here.
    Other storage (folded quantized groups, other ranks) comes whole, in one piece."""
    from weightwatch.artifacts.model import bf16_to_f32

    if not chunked(t):
        w = t.to_float32()
        yield 0, w.reshape(w.shape[0], -1) if w.ndim != 2 else w
        return
    rows, cols = t.shape
    step = max(1, ROW_CHUNK_VALUES // max(1, cols))
    raw = t.data()
    if t.dtype not in _SLICEABLE:
        raw = raw.reshape(rows, -1)  # packed blocks: a row is whole blocks
    for a in range(0, rows, step):
        piece = raw[a : a + step]
        if t.dtype == "BF16":
            yield a, bf16_to_f32(np.asarray(piece, dtype=np.uint16))
        elif t.dtype in _SLICEABLE:
            yield a, np.asarray(piece, dtype=np.float32)
        else:
            yield a, dequantize(piece, t.dtype)
