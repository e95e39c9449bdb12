"""GGUF (v2/v3) through the ``gguf`` package, with bounds checked before it runs.

``gguf.GGUFReader`` trusts the counts and lengths in the file: a header claiming 2**60
key-value pairs makes it loop forever. We first walk the header's *lengths only*
(a few microseconds per field) and refuse anything that cannot fit in the file; then the
reader parses the values. Tensor data is mapped per tensor; quantized blocks are
dequantized to float32 only on request, with the package's own NumPy kernels.
"""

from __future__ import annotations

import itertools
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import Tensor, TensorInfo
from weightwatch.errors import ArtifactError

# GGUF value type -> fixed byte size (None: string / array)
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_PLAIN: dict[
    int, tuple[str, np.dtype[Any]]
] = {  # GGML type id -> safetensors-style dtype name and numpy dtype
    0: ("F32", np.dtype("<f4")),
    1: ("F16", np.dtype("<f2")),
    30: ("BF16", np.dtype("<u2")),
    24: ("I8", np.dtype("i1")),
    25: ("I16", np.dtype("<i2")),
    26: ("I32", np.dtype("<i4")),
    27: ("I64", np.dtype("<i8")),
    28: ("F64", np.dtype("<f8")),
}
MAX_ARRAY_SUMMARY = 8
MAX_STRINGS = 2_000_000  # real vocabularies: tokens + merges of ~260k each


@dataclass(frozen=True)
class GGUFContents:
    version: int
    metadata: dict[str, Any]  # scalars and short arrays; long arrays summarised
    tokens: tuple[str, ...]
    tensors: tuple[tuple[TensorInfo, int, int], ...]  # (info, absolute offset, ggml type)


class _Walker:
    """Bounds-checking cursor over the GGUF header (lengths only, no values kept)."""

    def __init__(self, buf: mmap.mmap, end: int, name: str) -> None:
        self.buf, self.pos, self.end, self.name = buf, 0, end, name
        self.strings = 0

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise ArtifactError(
                self.name, f"GGUF header field at byte {self.pos} runs past the end of the file"
            )
        self.pos += n

    def take(self, n: int) -> bytes:
        start = self.pos
        self.skip(n)
        return self.buf[start : self.pos]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def string(self) -> None:
        self.strings += 1
        if self.strings > MAX_STRINGS:  # the gguf reader allocates per string
            raise ArtifactError(self.name, f"GGUF header holds more than {MAX_STRINGS} strings")
        self.skip(self.u64())

    def value(self, vtype: int, depth: int = 0) -> None:
        if vtype in _SCALAR_SIZES:
            self.skip(_SCALAR_SIZES[vtype])
        elif vtype == _STRING:
            self.string()
        elif vtype == _ARRAY and depth < 2:
            etype, count = self.u32(), self.u64()
            remaining = self.end - self.pos
            if etype in _SCALAR_SIZES:
                self.skip(count * _SCALAR_SIZES[etype])
            elif count > remaining // 8:
                raise ArtifactError(self.name, f"GGUF array claims {count} elements")
            else:
                for _ in range(count):
                    self.value(etype, depth + 1)
        else:
            raise ArtifactError(self.name, f"GGUF value of unknown type {vtype}")


def read_gguf(path: Path, *, rel: str | None = None) -> GGUFContents:
    """Parse a GGUF file's metadata and tensor table (no tensor data is read)."""
    name = rel or str(path)
    _prewalk_bounded(path, name)
    from gguf import GGUFReader  # imported lazily: it pulls in a large module tree

    try:
        reader = GGUFReader(path, "r")
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(name, f"GGUF parse failed: {exc}") from exc
    try:
        metadata, tokens = _metadata(reader)
        tensors = _tensors(reader, name, path.stat().st_size)
        version = int(reader.fields["GGUF.version"].parts[0][0])
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(name, f"GGUF metadata unreadable: {exc}") from exc
    finally:
        del reader
    return GGUFContents(version, metadata, tokens, tensors)


def _prewalk_bounded(path: Path, name: str) -> None:
    # Real headers (vocabularies of a few hundred thousand tokens) are far smaller than
    # 256 MiB; a longer one is refused rather than read into memory.
    limit = 256 * 1024 * 1024
    size = path.stat().st_size
    if size < 24:
        raise ArtifactError(name, "truncated GGUF file")
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            _walk_all(_Walker(mm, min(size, limit), name), name, size)
    except OSError as exc:
        raise ArtifactError(name, f"cannot map GGUF file: {exc}") from exc
    except ArtifactError as exc:
        if size > limit and "past the end" in exc.problem:
            raise ArtifactError(name, "GGUF header larger than 256 MiB") from exc
        raise


def _walk_all(w: _Walker, name: str, size: int) -> None:
    if w.take(4) != b"GGUF":
        raise ArtifactError(name, "not a GGUF file (bad magic)")
    version = w.u32()
    if version not in (2, 3):
        raise ArtifactError(name, f"unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = w.u64(), w.u64()
    if n_kv > size // 13 or n_tensors > size // 24:
        raise ArtifactError(name, f"GGUF header claims {n_tensors} tensors and {n_kv} keys")
    for _ in range(n_kv):
        w.string()
        w.value(w.u32())
    for _ in range(n_tensors):
        w.string()
        n_dims = w.u32()
        if n_dims > 8:
            raise ArtifactError(name, f"GGUF tensor with {n_dims} dimensions")
        w.skip(8 * n_dims + 4 + 8)


def _metadata(reader: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    from gguf import GGUFValueType

    meta: dict[str, Any] = {}
    tokens: tuple[str, ...] = ()
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0] if field.types else None
        if vtype == GGUFValueType.ARRAY:
            etype = field.types[1] if len(field.types) > 1 else None
            count = len(field.data)
            if etype == GGUFValueType.STRING:
                items = [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]
                if key == "tokenizer.ggml.tokens":
                    tokens = tuple(items)
            else:
                items = [field.parts[i].tolist()[0] for i in field.data[:MAX_ARRAY_SUMMARY]]
            if count <= MAX_ARRAY_SUMMARY:
                meta[key] = items
            else:
                meta[key] = {"array_of": str(etype.name if etype else "?"), "length": count}
        elif vtype == GGUFValueType.STRING:
            meta[key] = bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
        else:
            meta[key] = field.parts[field.data[0]].tolist()[0]
    return meta, tokens


def _tensors(reader: Any, name: str, size: int) -> tuple[tuple[TensorInfo, int, int], ...]:
    from gguf import GGMLQuantizationType

    out: list[tuple[TensorInfo, int, int]] = []
    spans: list[tuple[int, int, str]] = []
    for t in reader.tensors:
        tid = int(t.tensor_type)
        shape = tuple(int(d) for d in reversed([int(x) for x in t.shape]))
        offset, nbytes = int(t.data_offset), int(t.n_bytes)
        if offset + nbytes > size:
            raise ArtifactError(name, f"tensor {t.name!r} data runs past the end of the file")
        if tid in _PLAIN:
            dtype = _PLAIN[tid][0]
        else:
            try:
                dtype = GGMLQuantizationType(tid).name
            except ValueError as exc:
                raise ArtifactError(name, f"tensor {t.name!r}: unknown GGML type {tid}") from exc
        out.append((TensorInfo(str(t.name), dtype, shape, name, nbytes), offset, tid))
        spans.append((offset, offset + nbytes, str(t.name)))
    spans.sort()
    for (_b0, e0, n0), (b1, _e1, n1) in itertools.pairwise(spans):
        if b1 < e0:
            raise ArtifactError(name, f"tensors {n0!r} and {n1!r} overlap in the data section")
    return tuple(out)


def iter_tensors(path: Path, contents: GGUFContents) -> Iterator[Tensor]:
    for info, offset, tid in contents.tensors:
        yield _tensor(path, info, offset, tid)


def _tensor(path: Path, info: TensorInfo, offset: int, tid: int) -> Tensor:
    if tid in _PLAIN:
        np_dtype = _PLAIN[tid][1]

        def load() -> npt.NDArray[Any]:
            return map_range(path, offset, info.nbytes).view(np_dtype).reshape(info.shape)

        return Tensor(
            info,
            load,
            storage_key=f"{info.file}@{offset}",
            storage_end=offset + info.nbytes,
        )

    def load_raw() -> npt.NDArray[Any]:
        return map_range(path, offset, info.nbytes)

    def dequantize(raw: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize as _deq

        rows = info.numel // info.shape[-1] if info.shape and info.shape[-1] else 0
        try:
            out = _deq(raw.reshape(rows, -1), GGMLQuantizationType(tid))
            return np.asarray(out, dtype=np.float32).reshape(info.shape)
        except Exception as exc:
            raise ArtifactError(
                info.file, f"cannot dequantize tensor {info.name!r} ({info.dtype}): {exc}"
            ) from exc

    return Tensor(
        info,
        load_raw,
        dequantize,
        storage_key=f"{info.file}@{offset}",
        storage_end=offset + info.nbytes,
    )
