"""ONNX initializers as lazy tensors, read from the protobuf by hand (bounded, mmap).

An ONNX model's weights are the ``initializer`` entries of its graph (``ModelProto.graph``
= field 7, ``GraphProto.initializer`` = field 5, each a ``TensorProto``: ``dims`` 1,
``data_type`` 2, ``name`` 8, ``raw_data`` 9, typed ``float_data`` 4 / ``int32_data`` 5 /
``int64_data`` 7 / ``double_data`` 10, ``data_location`` 14). Only those fields are
decoded; nothing else in the file is interpreted, and ``raw_data`` is mapped, not copied.
Initializers stored as external data (``data_location = 1``) are reported, never followed:
a path inside a model is the scanner's business (``WW-ONNX-...``).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import Tensor, TensorInfo
from weightwatch.errors import ArtifactError

MAX_TENSORS = 1_000_000
MAX_DIMS = 16
# ONNX TensorProto.DataType -> (our dtype name, numpy dtype)
_TYPES: dict[int, tuple[str, str]] = {
    1: ("F32", "<f4"),
    2: ("U8", "u1"),
    3: ("I8", "i1"),
    4: ("U16", "<u2"),
    5: ("I16", "<i2"),
    6: ("I32", "<i4"),
    7: ("I64", "<i8"),
    9: ("BOOL", "?"),
    10: ("F16", "<f2"),
    11: ("F64", "<f8"),
    12: ("U32", "<u4"),
    13: ("U64", "<u8"),
    16: ("BF16", "<u2"),
}


class _Buf:
    def __init__(self, mm: mmap.mmap, name: str) -> None:
        self.mm, self.name = mm, name

    def varint(self, i: int, end: int) -> tuple[int, int]:
        value = shift = 0
        while i < end and shift < 70:
            b = self.mm[i]
            value |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                return value, i
            shift += 7
        raise ArtifactError(self.name, f"ONNX protobuf: bad varint at byte {i}")

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """(field number, wire type, value or payload offset, payload length)."""
        i = start
        while i < end:
            key, i = self.varint(i, end)
            num, wt = key >> 3, key & 7
            if wt == 0:
                v, i = self.varint(i, end)
                yield num, wt, v, 0
            elif wt == 2:
                n, i = self.varint(i, end)
                if i + n > end:
                    raise ArtifactError(self.name, f"ONNX protobuf: field {num} runs past its end")
                yield num, wt, i, n
                i += n
            elif wt in (1, 5):
                i += 8 if wt == 1 else 4
                if i > end:
                    raise ArtifactError(self.name, "ONNX protobuf: truncated fixed field")
            else:
                raise ArtifactError(self.name, f"ONNX protobuf: wire type {wt} at byte {i}")


def iter_tensors(path: Path, *, rel: str | None = None) -> Iterator[Tensor]:
    """Lazy tensors of the graph initializers of the ONNX model at ``path``."""
    name = rel or str(path)
    with open(path, "rb") as f:
        try:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ArtifactError(name, f"cannot map the ONNX file: {exc}") from exc
    buf = _Buf(mm, name)
    out: list[Tensor] = []
    try:
        for num, wt, off, n in buf.fields(0, len(mm)):
            if num == 7 and wt == 2:  # graph
                for gnum, gwt, goff, gn in buf.fields(off, off + n):
                    if gnum == 5 and gwt == 2:
                        out.append(_tensor(buf, path, goff, goff + gn))
                        if len(out) > MAX_TENSORS:
                            raise ArtifactError(name, f"more than {MAX_TENSORS} initializers")
    finally:
        mm.close()
    if not out:
        raise ArtifactError(name, "ONNX model has no graph initializers (no weights stored)")
    return iter(out)


def _tensor(buf: _Buf, path: Path, start: int, end: int) -> Tensor:
    dims: list[int] = []
    dtype = 0
    tname = ""
    raw: tuple[int, int] | None = None
    typed: list[tuple[int, int, int]] = []  # (field, offset, length) of packed typed data
    external = False
    for num, wt, v, n in buf.fields(start, end):
        if num == 1 and wt == 0:
            dims.append(v)
        elif num == 1 and wt == 2:  # packed dims
            i = v
            while i < v + n:
                d, i = buf.varint(i, v + n)
                dims.append(d)
        elif num == 2 and wt == 0:
            dtype = v
        elif num == 8 and wt == 2:
            tname = bytes(buf.mm[v : v + n]).decode("utf-8", "replace")
        elif num == 9 and wt == 2:
            raw = (v, n)
        elif (num in (4, 10) and wt == 2) or (num in (5, 7) and wt == 2):
            typed.append((num, v, n))
        elif num == 14 and wt == 0 and v == 1:
            external = True
    where = buf.name
    if dtype not in _TYPES:
        raise ArtifactError(where, f"initializer {tname!r}: unsupported ONNX data type {dtype}")
    if len(dims) > MAX_DIMS or any(d < 0 or d > 1 << 40 for d in dims):
        raise ArtifactError(where, f"initializer {tname!r}: implausible dims {dims[:MAX_DIMS]}")
    if external:
        raise ArtifactError(where, f"initializer {tname!r} is stored as external data")
    our, np_dtype = _TYPES[dtype]
    shape = tuple(dims)
    numel = int(np.prod(shape)) if shape else 1
    nbytes = numel * np.dtype(np_dtype).itemsize
    info = TensorInfo(tname, our, shape, where, nbytes)
    if raw is not None:
        off, n = raw
        if n != nbytes:
            raise ArtifactError(
                where, f"initializer {tname!r}: {n} raw bytes, shape needs {nbytes}"
            )

        def load() -> npt.NDArray[Any]:
            return map_range(path, off, n).view(np_dtype).reshape(shape)

        return Tensor(info, load, storage_key=f"{where}@{off}", storage_end=off + n)
    return Tensor(info, _typed_loader(buf.name, path, typed, np_dtype, shape, numel))


def _typed_loader(
    where: str, path: Path, typed: list[tuple[int, int, int]], np_dtype: str, shape: Any, numel: int
) -> Any:
    """Values in ``float_data``/``double_data`` (packed fixed) or ``int32/int64_data``."""

    def load() -> npt.NDArray[Any]:
        if not typed:
            if numel == 0:
                return np.zeros(shape, dtype=np_dtype)
            raise ArtifactError(where, "initializer holds no data")
        num, off, n = typed[0]
        data = np.asarray(map_range(path, off, n))
        if num == 4:
            vals: npt.NDArray[Any] = data.view("<f4")
        elif num == 10:
            vals = data.view("<f8")
        else:  # varints
            vals = np.asarray(_varints(data.tobytes()), dtype=np.int64)
        if vals.size != numel:
            raise ArtifactError(where, f"initializer has {vals.size} values, shape needs {numel}")
        if np_dtype == "<f2" and num == 5:  # F16 stored as int32 bit patterns
            return vals.astype(np.uint16).view(np.float16).reshape(shape)
        return vals.astype(np_dtype).reshape(shape)

    return load


def _varints(b: bytes) -> list[int]:
    out, value, shift = [], 0, 0
    for byte in b:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        out.append(value - (1 << 64) if value >= 1 << 63 else value)
        value = shift = 0
    return out
