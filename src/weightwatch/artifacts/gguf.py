"""GGUF (v2/v3): the header parsed here, bounds checked at every field, the tensors
dequantized with ``artifacts.dequant`` (the ``gguf`` package's arithmetic in cache-sized
chunks).

``gguf.GGUFReader`` trusts the counts and lengths in the file (a header claiming 2**60
key-value pairs makes it loop forever) and builds a NumPy view per field part, which is
slow for large vocabularies. We read the header in one pass that refuses anything that
cannot fit in the file, with ``struct`` and ``np.frombuffer``; the type sizes come from
``gguf.GGML_QUANT_SIZES``. Tensor data is mapped per tensor; quantized blocks are
dequantized to float32 only on request.
"""

from __future__ import annotations

import functools
import itertools
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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
    header_end: int = 0  # where the tensor table ends (alignment padding follows)
    data_start: int = 0  # where the data section starts
    alignment: int = 32


class HeaderBytes(Protocol):
    """What the header walker reads from: a mapped file, or a remote file fetched on demand."""

    def __getitem__(self, span: slice, /) -> bytes: ...


class _Walker:
    """Bounds-checking cursor over the GGUF header (lengths only, no values kept)."""

    def __init__(self, buf: HeaderBytes, end: int, name: str) -> None:
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

    def text(self) -> str:
        self.strings += 1
        if self.strings > MAX_STRINGS:
            raise ArtifactError(self.name, f"GGUF header holds more than {MAX_STRINGS} strings")
        return self.take(self.u64()).decode("utf-8", "replace")

    def scalar(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.text()
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is None:
            raise ArtifactError(self.name, f"GGUF value of unknown type {vtype}")
        return struct.unpack(fmt, self.take(_SCALAR_SIZES[vtype]))[0]

    def array(self, etype: int, count: int, *, keep: bool) -> list[Any]:
        """An array's items (all of them when ``keep``, else the first few), bounds-checked."""
        if etype in _SCALAR_SIZES:
            raw = self.take(count * _SCALAR_SIZES[etype])
            first = raw if keep else raw[: MAX_ARRAY_SUMMARY * _SCALAR_SIZES[etype]]
            return list(np.frombuffer(first, dtype=np.dtype(_SCALAR_FORMATS[etype])).tolist())
        if count > (self.end - self.pos) // 8:
            raise ArtifactError(self.name, f"GGUF array claims {count} elements")
        if etype == _STRING:
            items = []
            for i in range(count):
                if keep or i < MAX_ARRAY_SUMMARY:
                    items.append(self.text())
                else:
                    self.string()
            return items
        if etype == _ARRAY:  # arrays of arrays: walked, summarised by their lengths
            for _ in range(count):
                self.value(_ARRAY, 1)
            return []
        raise ArtifactError(self.name, f"GGUF array of unknown type {etype}")

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
    """Parse a GGUF file's metadata and tensor table (no tensor data is read).

    One bounds-checked pass over the header with ``struct`` and ``np.frombuffer``: the
    ``gguf`` package's reader builds a NumPy view per field part, which took 9 s for
    SmolLM2's 49k-token vocabulary and a minute for Gemma 3's 262k on a busy 2-core
    machine; this reads both in well under a second.
    """
    name = rel or str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ArtifactError(name, f"cannot map GGUF file: {exc}") from exc
    # A registration opens the same file in each step (scan, identity, fingerprint,
    # lineage, decide); the header of a 262k-token vocabulary takes a second or two to
    # walk. Keyed on the file's identity and its change time (which no caller can set),
    # so a file rewritten in place is parsed afresh.
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return _read_cached(key, str(path), name)


@functools.lru_cache(maxsize=4)
def _read_cached(_key: tuple[int, ...], path: str, name: str) -> GGUFContents:
    return _read(Path(path), name)


# Real headers (vocabularies of a few hundred thousand tokens) are far smaller than
# 256 MiB; a longer one is refused rather than read into memory.
MAX_HEADER = 256 * 1024 * 1024


def _read(path: Path, name: str) -> GGUFContents:
    size = path.stat().st_size
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return parse_header(mm, size, name)
    except OSError as exc:
        raise ArtifactError(name, f"cannot map GGUF file: {exc}") from exc


def parse_header(buf: HeaderBytes, size: int, name: str) -> GGUFContents:
    """The header and tensor table of a GGUF of ``size`` bytes read from ``buf``: the one
    parser, for local files and for remote ones fetched range by range (``remote``)."""
    if size < 24:
        raise ArtifactError(name, "truncated GGUF file")
    w = _Walker(buf, min(size, MAX_HEADER), name)
    try:
        return _parse(w, name, size)
    except ArtifactError as exc:
        if size > MAX_HEADER and "past the end" in exc.problem:
            raise ArtifactError(name, "GGUF header larger than 256 MiB") from exc
        raise


_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALAR_FORMATS |= {10: "<Q", 11: "<q", 12: "<d"}
_TYPE_NAMES = {0: "UINT8", 1: "INT8", 2: "UINT16", 3: "INT16", 4: "UINT32", 5: "INT32"}
_TYPE_NAMES |= {6: "FLOAT32", 7: "BOOL", 8: "STRING", 9: "ARRAY", 10: "UINT64", 11: "INT64"}
_TYPE_NAMES |= {12: "FLOAT64"}


def _parse(w: _Walker, name: str, size: int) -> GGUFContents:
    if w.take(4) != b"GGUF":
        raise ArtifactError(name, "not a GGUF file (bad magic)")
    version = w.u32()
    if version not in (2, 3):
        raise ArtifactError(name, f"unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = w.u64(), w.u64()
    if n_kv > size // 13 or n_tensors > size // 24:
        raise ArtifactError(name, f"GGUF header claims {n_tensors} tensors and {n_kv} keys")
    meta: dict[str, Any] = {}
    tokens: tuple[str, ...] = ()
    for _ in range(n_kv):
        key = w.text()
        if key in meta:  # llama.cpp and gguf.GGUFReader refuse it; others keep either value
            raise ArtifactError(name, f"GGUF header holds the key {key[:200]!r} twice")
        vtype = w.u32()
        if vtype == _ARRAY:
            etype, count = w.u32(), w.u64()
            keep = key == "tokenizer.ggml.tokens" or count <= MAX_ARRAY_SUMMARY
            items = w.array(etype, count, keep=keep)
            if key == "tokenizer.ggml.tokens" and etype == _STRING:
                tokens = tuple(items)
            if count <= MAX_ARRAY_SUMMARY:
                meta[key] = items
            else:
                meta[key] = {"array_of": _TYPE_NAMES.get(etype, "?"), "length": count}
        else:
            meta[key] = w.scalar(vtype)
        if key == "general.alignment" and vtype != 4:  # llama.cpp reads it as a uint32 only
            raise ArtifactError(name, f"GGUF general.alignment has type {vtype}, not uint32")
    infos: list[tuple[str, tuple[int, ...], int, int]] = []
    names: set[str] = set()
    for _ in range(n_tensors):
        tname = w.text()
        n_dims = w.u32()
        if n_dims > 8:
            raise ArtifactError(name, f"GGUF tensor with {n_dims} dimensions")
        dims = struct.unpack(f"<{n_dims}Q", w.take(8 * n_dims))
        tid, offset = w.u32(), w.u64()
        if tname in names:
            raise ArtifactError(name, f"GGUF header names the tensor {tname[:200]!r} twice")
        names.add(tname)
        infos.append((tname, tuple(int(d) for d in reversed(dims)), tid, offset))
    align = meta.get("general.alignment", 32)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise ArtifactError(name, f"GGUF general.alignment {align!r} is not a power of two")
    data_start = -(-w.pos // align) * align
    tensors = _tensor_table(infos, name, size, data_start)
    return GGUFContents(version, meta, tokens, tensors, w.pos, data_start, align)


def _tensor_table(
    infos: list[tuple[str, tuple[int, ...], int, int]], name: str, size: int, data_start: int
) -> tuple[tuple[TensorInfo, int, int], ...]:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    out: list[tuple[TensorInfo, int, int]] = []
    spans: list[tuple[int, int, str]] = []
    for tname, shape, tid, rel_offset in infos:
        numel = 1
        for d in shape:
            numel *= d
        if tid in _PLAIN:
            dtype = _PLAIN[tid][0]
            nbytes = numel * _PLAIN[tid][1].itemsize
        else:
            try:
                qtype = GGMLQuantizationType(tid)
            except ValueError as exc:
                raise ArtifactError(name, f"tensor {tname!r}: unknown GGML type {tid}") from exc
            block, type_size = GGML_QUANT_SIZES[qtype]
            if not shape or shape[-1] % block:
                raise ArtifactError(
                    name, f"tensor {tname!r}: rows of {shape[-1:]} do not fill {qtype.name} blocks"
                )
            dtype, nbytes = qtype.name, numel // block * type_size
        offset = data_start + rel_offset
        if offset + nbytes > size:
            raise ArtifactError(name, f"tensor {tname!r} data runs past the end of the file")
        out.append((TensorInfo(tname, dtype, shape, name, nbytes), offset, tid))
        spans.append((offset, offset + nbytes, tname))
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
        rows = info.numel // info.shape[-1] if info.shape and info.shape[-1] else 0
        try:
            return _deq(raw.reshape(rows, -1), tid).reshape(info.shape)
        except Exception as exc:
            raise ArtifactError(
                info.file, f"cannot dequantize tensor {info.name!r} ({info.dtype}): {exc}"
            ) from exc

    def rows(idx: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        if len(info.shape) != 2:
            return dequantize(load_raw())[idx]
        raw = load_raw().reshape(info.shape[0], -1)[idx]  # a row is whole blocks
        try:
            out = _deq(raw, tid)
        except Exception as exc:
            raise ArtifactError(
                info.file, f"cannot dequantize tensor {info.name!r} ({info.dtype}): {exc}"
            ) from exc
        return out.reshape(len(idx), info.shape[1])

    return Tensor(
        info,
        load_raw,
        dequantize,
        storage_key=f"{info.file}@{offset}",
        storage_end=offset + info.nbytes,
        _rows_f32=rows,
    )


def _deq(raw: npt.NDArray[Any], tid: int) -> npt.NDArray[np.float32]:
    """Rows of whole blocks of GGML type ``tid`` -> float32 (``artifacts.dequant``'s
    cache-sized kernels, bit-identical to ``gguf.quants``; its own code for other types)."""
    from gguf import GGMLQuantizationType

    from weightwatch.artifacts.dequant import dequantize

    return dequantize(raw, GGMLQuantizationType(tid).name)
