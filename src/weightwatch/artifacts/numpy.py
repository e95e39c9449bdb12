"""NumPy ``.npy`` and ``.npz`` without ``allow_pickle``: object arrays are refused.

The header is matched against the one canonical form ``numpy.lib.format`` writes, not fed
to its reader: that reader calls ``ast.literal_eval`` (a ``compile``), accepts structured
dtypes no weight file needs, and its shape product can overflow. Data is mapped in place
for ``.npy`` and STORED ``.npz`` members; big-endian arrays come back as big-endian views.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import DTYPES, Tensor, TensorInfo
from weightwatch.artifacts.torchfile import MAX_DEFLATE_RATIO, ZIP_ERRORS
from weightwatch.errors import ArtifactError

MAX_MEMBER = 8 * 1024**3  # bound for a compressed .npz member we must inflate

_NP_TO_NAME = {
    np.dtype(v[0]).str: k
    for k, v in DTYPES.items()
    if k not in ("BF16", "F8_E4M3", "F8_E5M2", "U8", "U16")
}
_NP_TO_NAME.update(
    {np.dtype("u1").str: "U8", np.dtype("<u2").str: "U16", np.dtype("|b1").str: "BOOL"}
)


# The header numpy writes for plain arrays. numpy's own reader feeds the text to
# ast.literal_eval; we accept only this canonical form (structured dtypes are not weights).
_HEADER = re.compile(
    r"""\{\s*'descr':\s*'(?P<descr>[<>|=]?[a-zA-Z]\d*)',\s*"""
    r"""'fortran_order':\s*(?P<fortran>True|False),\s*"""
    r"""'shape':\s*\((?P<shape>(\s*\d+\s*,)*(\s*\d+\s*)?)\),?\s*\}\s*$""",
    re.ASCII,  # \s and \d of Unicode would admit separators int() rejects
)
MAX_NPY_HEADER = 1 << 16


def _header(
    f: BinaryIO, rel: str, member: str | None
) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    magic = f.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2, 3):
        raise ArtifactError(rel, "bad .npy magic or version", member=member)
    size_field = f.read(2 if magic[6] == 1 else 4)
    if len(size_field) not in (2, 4):
        raise ArtifactError(rel, "truncated .npy header", member=member)
    hlen = int.from_bytes(size_field, "little")
    if hlen > MAX_NPY_HEADER:
        raise ArtifactError(rel, f".npy header of {hlen} bytes is too long", member=member)
    raw = f.read(hlen)
    m = _HEADER.match(raw.decode("latin1")) if len(raw) == hlen else None
    if m is None:
        if b"'O'" in raw or b"|O" in raw:
            raise ArtifactError(
                rel, "object arrays need pickle to load and are refused", member=member
            )
        raise ArtifactError(rel, "unsupported or malformed .npy header", member=member)
    try:
        dtype = np.dtype(m.group("descr"))
    except TypeError as exc:
        raise ArtifactError(rel, f"unknown .npy dtype {m.group('descr')!r}", member=member) from exc
    shape = tuple(int(d) for d in m.group("shape").split(",") if d.strip())
    fortran = m.group("fortran") == "True"
    if dtype.hasobject:
        raise ArtifactError(rel, "object arrays need pickle to load and are refused", member=member)
    if dtype.newbyteorder("<").str not in _NP_TO_NAME:
        raise ArtifactError(rel, f"unsupported .npy dtype {dtype.str}", member=member)
    if len(shape) > 32:
        raise ArtifactError(rel, f".npy array with {len(shape)} dimensions", member=member)
    return shape, fortran, dtype


def _name(dtype: np.dtype[Any]) -> str:
    return _NP_TO_NAME[dtype.newbyteorder("<").str]


def _view(raw: npt.NDArray[np.uint8], shape: tuple[int, ...], fortran: bool, dtype: Any) -> Any:
    arr = raw.view(dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def read_npy(path: Path, *, rel: str, name: str = "array") -> list[Tensor]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        shape, fortran, dtype = _header(f, rel, None)
        offset = f.tell()
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes > size:
        raise ArtifactError(rel, f".npy data truncated: need {nbytes} bytes after the header")
    info = TensorInfo(name, _name(dtype), shape, rel, nbytes)

    def load() -> npt.NDArray[Any]:
        return _view(map_range(path, offset, nbytes), shape, fortran, dtype)  # type: ignore[no-any-return]

    return [Tensor(info, load, storage_key=f"{rel}@{offset}")]


def read_npz(path: Path, *, rel: str) -> list[Tensor]:
    out: list[Tensor] = []
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
            names = zf.namelist()
            if len(set(names)) != len(names):
                raise ArtifactError(rel, ".npz has duplicate member names")
            for member in zf.infolist():
                out.append(_npz_member(path, rel, zf, raw, member, size))
    except ArtifactError:
        raise
    except ZIP_ERRORS as exc:
        raise ArtifactError(rel, f"unreadable .npz: {type(exc).__name__}: {exc}") from exc
    return out


def _npz_member(
    path: Path, rel: str, zf: zipfile.ZipFile, raw: BinaryIO, m: zipfile.ZipInfo, size: int
) -> Tensor:
    name = m.filename[:-4] if m.filename.endswith(".npy") else m.filename
    with zf.open(m) as f:
        shape, fortran, dtype = _header(f, rel, m.filename)  # type: ignore[arg-type]
        header_len = f.tell()
    nbytes = math.prod(shape) * dtype.itemsize
    if header_len + nbytes > m.file_size:
        raise ArtifactError(rel, "array data truncated", member=m.filename)
    info = TensorInfo(name, _name(dtype), shape, rel, nbytes)
    if m.compress_type == zipfile.ZIP_STORED:
        raw.seek(m.header_offset)
        local = raw.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ArtifactError(rel, "bad local header", member=m.filename)
        n, e = struct.unpack("<HH", local[26:30])
        start = m.header_offset + 30 + n + e + header_len
        if m.compress_size != m.file_size or start + nbytes > size:
            raise ArtifactError(rel, "array data runs past the end", member=m.filename)

        def load() -> npt.NDArray[Any]:
            return _view(map_range(path, start, nbytes), shape, fortran, dtype)  # type: ignore[no-any-return]

    else:
        if m.file_size > MAX_MEMBER or m.file_size > MAX_DEFLATE_RATIO * max(m.compress_size, 1):
            raise ArtifactError(rel, "compressed member too large to inflate", member=m.filename)

        def load() -> npt.NDArray[Any]:
            try:
                with zipfile.ZipFile(path) as z2, z2.open(m.filename) as f2:
                    f2.read(header_len)
                    data = f2.read(nbytes)
            except ZIP_ERRORS as exc:
                raise ArtifactError(rel, f"cannot inflate: {exc}", member=m.filename) from exc
            if len(data) != nbytes:
                raise ArtifactError(rel, "array data truncated", member=m.filename)
            return _view(np.frombuffer(data, dtype=np.uint8), shape, fortran, dtype)  # type: ignore[no-any-return]

    return Tensor(info, load, storage_key=f"{rel}:{m.filename}")
