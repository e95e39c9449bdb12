"""NumPy ``.npy`` and ``.npz`` without ``allow_pickle``: object arrays are refused.

The header is parsed by ``numpy.lib.format``'s header reader (a literal parser, no
pickle); data is mapped in place for ``.npy`` and for STORED ``.npz`` members.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import DTYPES, Tensor, TensorInfo
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
    r"""'shape':\s*\((?P<shape>(\s*\d+\s*,)*(\s*\d+\s*)?)\),?\s*\}\s*$"""
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
    shape = tuple(int(d) for d in m.group("shape").replace(" ", "").split(",") if d)
    fortran = m.group("fortran") == "True"
    if dtype.hasobject:
        raise ArtifactError(rel, "object arrays need pickle to load and are refused", member=member)
    if dtype.str not in _NP_TO_NAME:
        raise ArtifactError(rel, f"unsupported .npy dtype {dtype.str}", member=member)
    return shape, fortran, dtype


def _view(raw: npt.NDArray[np.uint8], shape: tuple[int, ...], fortran: bool, dtype: Any) -> Any:
    arr = raw.view(dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def read_npy(path: Path, *, rel: str, name: str = "array") -> list[Tensor]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        shape, fortran, dtype = _header(f, rel, None)
        offset = f.tell()
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset + nbytes > size:
        raise ArtifactError(rel, f".npy data truncated: need {nbytes} bytes after the header")
    info = TensorInfo(name, _NP_TO_NAME[dtype.str], shape, rel, nbytes)

    def load() -> npt.NDArray[Any]:
        return _view(map_range(path, offset, nbytes), shape, fortran, dtype)  # type: ignore[no-any-return]

    return [Tensor(info, load, storage_key=f"{rel}@{offset}")]


def read_npz(path: Path, *, rel: str) -> list[Tensor]:
    out: list[Tensor] = []
    try:
        with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
            for member in zf.infolist():
                out.append(_npz_member(path, rel, zf, raw, member))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ArtifactError(rel, f"unreadable .npz: {exc}") from exc
    return out


def _npz_member(
    path: Path, rel: str, zf: zipfile.ZipFile, raw: BinaryIO, m: zipfile.ZipInfo
) -> Tensor:
    name = m.filename[:-4] if m.filename.endswith(".npy") else m.filename
    with zf.open(m) as f:
        shape, fortran, dtype = _header(f, rel, m.filename)  # type: ignore[arg-type]
        header_len = f.tell()
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if header_len + nbytes > m.file_size:
        raise ArtifactError(rel, "array data truncated", member=m.filename)
    info = TensorInfo(name, _NP_TO_NAME[dtype.str], shape, rel, nbytes)
    if m.compress_type == zipfile.ZIP_STORED:
        raw.seek(m.header_offset)
        local = raw.read(30)
        n, e = struct.unpack("<HH", local[26:30])
        start = m.header_offset + 30 + n + e + header_len

        def load() -> npt.NDArray[Any]:
            return _view(map_range(path, start, nbytes), shape, fortran, dtype)  # type: ignore[no-any-return]

    else:
        if m.file_size > MAX_MEMBER:
            raise ArtifactError(rel, "compressed member too large to inflate", member=m.filename)

        def load() -> npt.NDArray[Any]:
            with zipfile.ZipFile(path) as z2, z2.open(m) as f2:
                f2.read(header_len)
                data = f2.read(nbytes)
            if len(data) != nbytes:
                raise ArtifactError(rel, "array data truncated", member=m.filename)
            return _view(np.frombuffer(data, dtype=np.uint8), shape, fortran, dtype)  # type: ignore[no-any-return]

    return Tensor(info, load, storage_key=f"{rel}:{m.filename}")
