"""Strict safetensors reader: validated header, per-tensor memory maps.

We parse the header ourselves rather than through ``safetensors.safe_open`` so that every
structural problem (absurd header length, offsets past the end, overlaps, unknown dtypes)
becomes an ``ArtifactError`` naming the file, and so tensor data is mapped, never copied.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import DTYPES, Tensor, TensorInfo
from weightwatch.errors import ArtifactError

MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's own limit


@dataclass(frozen=True)
class SafetensorsHeader:
    metadata: dict[str, str]
    tensors: tuple[tuple[TensorInfo, int], ...]  # (info, absolute data offset)
    data_start: int
    file_size: int


def read_header(path: Path, *, rel: str | None = None) -> SafetensorsHeader:
    """Parse and validate the header of a safetensors file."""
    name = rel or str(path)
    size = path.stat().st_size
    if size < 8:
        raise ArtifactError(name, "truncated safetensors file: no header length")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER:
            raise ArtifactError(name, f"safetensors header length {n} exceeds {MAX_HEADER}")
        if n > size - 8:
            raise ArtifactError(name, f"safetensors header length {n} runs past end of file")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _Duplicate as exc:
        raise ArtifactError(name, f"safetensors header names {exc} twice") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(name, f"safetensors header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ArtifactError(name, "safetensors header is not a JSON object")
    data_start = 8 + n
    data_len = size - data_start
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise ArtifactError(name, "safetensors __metadata__ must map strings to strings")
    entries: list[tuple[TensorInfo, int, int]] = []
    for tname, spec in header.items():
        info, begin, end = _validate_entry(name, tname, spec, data_len)
        entries.append((info, begin, end))
    entries.sort(key=lambda e: (e[1], e[2]))
    prev_end, prev_name = 0, ""
    for info, begin, end in entries:
        if begin < prev_end:
            raise ArtifactError(
                name, f"tensors {prev_name!r} and {info.name!r} overlap in the data section"
            )
        if end > begin:
            prev_end, prev_name = end, info.name
    return SafetensorsHeader(
        metadata=dict(meta),
        tensors=tuple((info, data_start + b) for info, b, _ in entries),
        data_start=data_start,
        file_size=size,
    )


class _Duplicate(Exception):
    """Internal: a JSON object repeats a key (readers disagree on which value wins)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(repr(k[:200]))
        out[k] = v
    return out


def _validate_entry(name: str, tname: str, spec: Any, data_len: int) -> tuple[TensorInfo, int, int]:
    if not isinstance(spec, dict):
        raise ArtifactError(name, f"tensor {tname!r}: entry is not an object")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if dtype not in DTYPES:
        raise ArtifactError(name, f"tensor {tname!r}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ArtifactError(name, f"tensor {tname!r}: shape must be a list of non-negative ints")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise ArtifactError(name, f"tensor {tname!r}: data_offsets must be two integers")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise ArtifactError(
            name,
            f"tensor {tname!r}: data_offsets [{begin}, {end}] outside the data section "
            f"of {data_len} bytes",
        )
    numel = 1
    for d in shape:
        numel *= d
    nbytes = numel * DTYPES[dtype][1]
    if end - begin != nbytes:
        raise ArtifactError(
            name,
            f"tensor {tname!r}: {end - begin} bytes stored but shape {shape} of {dtype} "
            f"needs {nbytes}",
        )
    return TensorInfo(tname, dtype, tuple(shape), name, nbytes), begin, end


def iter_tensors(path: Path, *, rel: str | None = None) -> Iterator[Tensor]:
    """Lazy tensors of one safetensors file, in file order."""
    hdr = read_header(path, rel=rel)
    for info, offset in hdr.tensors:
        yield Tensor(
            info,
            _loader(path, offset, info),
            storage_key=f"{info.file}@{offset}",
            storage_end=offset + info.nbytes,
        )


def _loader(path: Path, offset: int, info: TensorInfo) -> Any:
    np_dtype = DTYPES[info.dtype][0]

    def load() -> npt.NDArray[Any]:
        raw = map_range(path, offset, info.nbytes)
        return raw.view(np_dtype).reshape(info.shape)

    return load
