"""PyTorch checkpoints (zip and legacy formats) read without torch and without executing.

The pickle inside runs on ``unpickler.run`` with ``torchrefs.ALLOWED``: the tensor and
storage rebuild callables ``torch.save`` emits, each replaced by a stand-in that records
(storage, offset, shape, strides). Tensor data is then a strided NumPy view over exactly
the bytes the tensor spans, memory-mapped straight out of the file (zip storages are
STORED); a compressed storage is inflated on request, within bounds.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import DTYPES, Tensor, TensorInfo
from weightwatch.artifacts.torchrefs import ALLOWED, StorageTable, TensorRef, collect
from weightwatch.artifacts.unpickler import BoundedReader, PickleRefused, Readable, run
from weightwatch.errors import ArtifactError

MAX_PICKLE = 256 * 1024 * 1024
MAX_INFLATE = 4 * 1024**3  # a compressed storage is read into memory: refuse larger ones
MAX_DEFLATE_RATIO = 1100  # deflate cannot expand more than ~1032:1
MAX_REPEATED = 1 << 24  # elements a self-overlapping (expanded) view may present
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,  # encrypted members
    struct.error,
    zlib.error,
    KeyError,
    IndexError,
    OverflowError,
    UnicodeDecodeError,
)
_PICKLE_ERRORS = (ValueError, EOFError, UnicodeDecodeError, OverflowError, RecursionError)


@dataclass(frozen=True)
class _Storage:
    path: Path
    offset: int  # absolute offset of the storage's bytes (STORED), or 0 with ``member``
    nbytes: int
    member: str | None = None  # set when the bytes must be inflated from this zip member


@dataclass(frozen=True)
class TorchContents:
    tensors: tuple[tuple[TensorInfo, TensorRef, _Storage, int], ...]  # + byte offset in storage
    big_endian: bool = False


def read_torch_zip(path: Path, *, rel: str) -> TorchContents:
    try:
        with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
            infos = _unique_members(zf, rel)
            pkl = [n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pkl) != 1:
                raise ArtifactError(rel, f"torch zip has {len(pkl)} data.pkl records")
            prefix = pkl[0][: -len("data.pkl")]
            info = infos[pkl[0]]
            if max(info.file_size, info.compress_size) > MAX_PICKLE:
                raise ArtifactError(rel, "data.pkl larger than 256 MiB", member=pkl[0])
            big = _byteorder(zf, infos.get(prefix + "byteorder"), rel)
            data = zf.read(info)
            table = StorageTable()
            obj = _unpickle(io.BytesIO(data), rel, table, member=pkl[0])
            size = path.stat().st_size
            storages: dict[str, _Storage] = {}
            for key in table.storages:
                member = infos.get(f"{prefix}data/{key}")
                if member is None:
                    raise ArtifactError(rel, f"storage {key} is missing from the archive")
                storages[key] = _member_span(path, raw, member, rel, size)
    except ArtifactError:
        raise
    except ZIP_ERRORS as exc:
        raise ArtifactError(rel, f"unreadable torch zip: {type(exc).__name__}: {exc}") from exc
    return _contents(rel, obj, storages, big_endian=big)


def _unique_members(zf: zipfile.ZipFile, rel: str) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for i in zf.infolist():
        if i.filename in infos:  # readers disagree on which copy wins: refuse the ambiguity
            raise ArtifactError(rel, "duplicate archive member", member=i.filename)
        if i.flag_bits & 0x1:
            raise ArtifactError(rel, "encrypted archive member", member=i.filename)
        infos[i.filename] = i
    return infos


def _byteorder(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, rel: str) -> bool:
    if info is None:
        return False  # written before the record existed: little-endian
    if info.file_size > 16:
        raise ArtifactError(rel, "byteorder record is too long", member=info.filename)
    order = zf.read(info).strip()
    if order not in (b"little", b"big"):
        raise ArtifactError(rel, f"unknown byteorder {order[:16]!r}", member=info.filename)
    return order == b"big"


def _member_span(path: Path, raw: BinaryIO, info: zipfile.ZipInfo, rel: str, size: int) -> _Storage:
    if info.compress_type != zipfile.ZIP_STORED:
        if info.file_size > MAX_INFLATE or info.file_size > MAX_DEFLATE_RATIO * max(
            info.compress_size, 1
        ):
            raise ArtifactError(
                rel, f"compressed storage of {info.file_size} bytes", member=info.filename
            )
        return _Storage(path, 0, info.file_size, member=info.filename)
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ArtifactError(rel, "bad local header", member=info.filename)
    n, m = struct.unpack("<HH", local[26:30])
    if raw.read(n) != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
        raise ArtifactError(rel, "local header names another file", member=info.filename)
    start = info.header_offset + 30 + n + m
    if info.compress_size != info.file_size or start + info.file_size > size:
        raise ArtifactError(rel, "storage record runs past the end", member=info.filename)
    return _Storage(path, start, info.file_size)


def read_torch_legacy(path: Path, *, rel: str) -> TorchContents:
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic, pos = _unpickle_at(f, pos=0, size=size, rel=rel, what="magic number")
        if magic != LEGACY_MAGIC:
            raise ArtifactError(rel, "not a legacy torch checkpoint (bad magic number)")
        proto, pos = _unpickle_at(f, pos=pos, size=size, rel=rel, what="protocol version")
        if proto != LEGACY_PROTOCOL:
            raise ArtifactError(rel, "unsupported legacy protocol version")
        info, pos = _unpickle_at(f, pos=pos, size=size, rel=rel, what="system info")
        if not isinstance(info, dict) or info.get("little_endian") is not True:
            raise ArtifactError(rel, "legacy checkpoint is not little-endian (or lacks sys info)")
        table = StorageTable()
        obj, pos = _unpickle_at(f, pos=pos, size=size, rel=rel, what="checkpoint", table=table)
        keys, pos = _unpickle_at(f, pos=pos, size=size, rel=rel, what="storage keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ArtifactError(rel, "legacy checkpoint: storage key list is malformed")
        storages: dict[str, _Storage] = {}
        for key in keys:
            ref = table.storages.get(key)
            if ref is None or key in storages:
                raise ArtifactError(rel, f"legacy checkpoint: unexpected storage key {key[:64]!r}")
            f.seek(pos)
            head = f.read(8)
            if len(head) != 8:
                raise ArtifactError(rel, f"legacy checkpoint truncated before storage {key}")
            (numel,) = struct.unpack("<q", head)
            nbytes = numel * DTYPES[ref.dtype][1]
            if numel < 0 or pos + 8 + nbytes > size:
                raise ArtifactError(rel, f"legacy checkpoint: storage {key} runs past the end")
            storages[key] = _Storage(path, pos + 8, nbytes)
            pos += 8 + nbytes
    return _contents(rel, obj, storages, big_endian=False)


def _unpickle(stream: Readable, rel: str, table: StorageTable | None, *, member: str) -> Any:
    try:
        obj, _end = run(stream, allowed=ALLOWED, persistent_load=table)
    except PickleRefused as exc:
        raise ArtifactError(rel, str(exc), member=member) from exc
    except _PICKLE_ERRORS as exc:
        raise ArtifactError(rel, f"malformed pickle: {type(exc).__name__}", member=member) from exc
    return obj


def _unpickle_at(
    f: BinaryIO, *, pos: int, size: int, rel: str, what: str, table: StorageTable | None = None
) -> tuple[Any, int]:
    reader = BoundedReader(f, pos, size)
    try:
        return run(reader, allowed=ALLOWED, persistent_load=table)
    except PickleRefused as exc:
        raise ArtifactError(rel, f"{exc} (in the {what} pickle)") from exc
    except _PICKLE_ERRORS as exc:
        raise ArtifactError(rel, f"malformed {what} pickle: {type(exc).__name__}") from exc


def _contents(
    rel: str, obj: Any, storages: dict[str, _Storage], *, big_endian: bool
) -> TorchContents:
    out: list[tuple[TensorInfo, TensorRef, _Storage, int]] = []
    for name, ref in collect(obj, rel):
        st = storages.get(ref.storage.key)
        if st is None:
            raise ArtifactError(rel, f"tensor {name!r}: storage {ref.storage.key} missing")
        s_item, item = DTYPES[ref.storage.dtype][1], DTYPES[ref.dtype][1]
        base = ref.storage.view_offset * s_item
        avail = min(ref.storage.numel * s_item, st.nbytes - base)
        if avail < 0 or base + ref.storage.numel * s_item > st.nbytes:
            raise ArtifactError(rel, f"tensor {name!r}: storage {ref.storage.key} is too short")
        first = _first_element(rel, name, ref, avail // item)
        info = TensorInfo(name, ref.dtype, ref.shape, rel, math.prod(ref.shape) * item)
        out.append((info, ref, st, base + first * item))
    return TorchContents(tuple(out), big_endian)


def _first_element(rel: str, name: str, ref: TensorRef, elements: int) -> int:
    """Where a strided view starts; refuses views outside their storage."""
    if len(ref.shape) != len(ref.stride) or any(d < 0 for d in ref.shape + ref.stride):
        raise ArtifactError(rel, f"tensor {name!r}: bad shape {ref.shape} / stride {ref.stride}")
    if ref.offset < 0:
        raise ArtifactError(rel, f"tensor {name!r}: negative storage offset")
    if 0 in ref.shape:
        return ref.offset
    span = 1 + sum((d - 1) * s for d, s in zip(ref.shape, ref.stride, strict=True))
    if ref.offset + span > elements:
        raise ArtifactError(rel, f"tensor {name!r}: view reaches past the end of its storage")
    if math.prod(ref.shape) > max(span, MAX_REPEATED):
        raise ArtifactError(
            rel, f"tensor {name!r}: view repeats storage elements beyond {MAX_REPEATED}"
        )
    return ref.offset


def iter_tensors(contents: TorchContents) -> Iterator[Tensor]:
    for info, ref, st, start in contents.tensors:
        key = f"{info.file}#{ref.storage.key}@{start}:{ref.stride}"
        yield Tensor(info, _loader(info, ref, st, start, contents.big_endian), storage_key=key)


def _loader(info: TensorInfo, ref: TensorRef, st: _Storage, start: int, big: bool) -> Any:
    np_dtype = DTYPES[info.dtype][0].newbyteorder(">" if big else "<")
    item = np_dtype.itemsize

    def load() -> npt.NDArray[Any]:
        if info.numel == 0:
            empty = np.zeros(info.shape, dtype=np_dtype)
            empty.flags.writeable = False
            return empty
        span = 1 + sum((d - 1) * s for d, s in zip(ref.shape, ref.stride, strict=True))
        if st.member is None:
            raw = map_range(st.path, st.offset + start, span * item)
        else:
            raw = _inflate(st, info.file)[start : start + span * item]
        return np.lib.stride_tricks.as_strided(
            raw.view(np_dtype),
            shape=ref.shape,
            strides=tuple(s * item for s in ref.stride),
            writeable=False,
        )

    return load


def _inflate(st: _Storage, rel: str) -> npt.NDArray[np.uint8]:
    assert st.member is not None
    try:
        with zipfile.ZipFile(st.path) as zf, zf.open(st.member) as f:
            data = f.read(st.nbytes)
    except ZIP_ERRORS as exc:
        raise ArtifactError(rel, f"cannot inflate storage: {exc}", member=st.member) from exc
    if len(data) != st.nbytes:
        raise ArtifactError(rel, "storage record is truncated", member=st.member)
    return np.frombuffer(data, dtype=np.uint8)
