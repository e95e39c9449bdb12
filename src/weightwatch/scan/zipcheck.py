"""Where zip readers disagree: Python's ``zipfile`` (which the scanner and NumPy use) trusts
the central directory and checks CRCs; PyTorch's reader (miniz) reads a stored member by
its uncompressed size, skips the CRC and treats the MS-DOS directory attribute as "not a
file"; streaming readers walk the local headers. Each place where the headers could send
two readers to different bytes is a finding, and a member Python refuses is read the way
a lenient reader would read it."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from weightwatch.artifacts.limits import MAX_INFLATE
from weightwatch.scan import rules
from weightwatch.scan.findings import Finding, Location

STORAGE = re.compile(r"(^|/)data/\d+$")  # torch zip storage blobs: raw tensor bytes
_DESCRIPTOR = 0x08  # general-purpose flag: CRC and sizes follow the data
_DOS_DIRECTORY = 0x10  # external attribute (low byte): MS-DOS directory


@dataclass(frozen=True)
class LocalHeader:
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    name: str
    data_offset: int


def local_header(raw: BinaryIO, info: zipfile.ZipInfo) -> LocalHeader | None:
    """The member's local header, or None where the central directory points at none."""
    if info.header_offset < 0:
        return None
    raw.seek(info.header_offset)
    head = raw.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        return None
    flags, method = struct.unpack("<HH", head[6:10])
    crc, csize, usize, n, m = struct.unpack("<IIIHH", head[14:30])
    name = raw.read(n).decode("utf-8" if flags & 0x800 else "cp437", "replace")
    return LocalHeader(flags, method, crc, csize, usize, name, info.header_offset + 30 + n + m)


def raw_member(raw: BinaryIO, info: zipfile.ZipInfo) -> bytes | None:
    """A member read the way a lenient reader would: no CRC check, and a stored member
    read to the larger of its two sizes (PyTorch's reader uses the uncompressed one)."""
    local = local_header(raw, info)
    if local is None or info.compress_size < 0:
        return None
    size = info.compress_size
    if local.method == zipfile.ZIP_STORED:
        size = max(size, info.file_size)
    if size > MAX_INFLATE:
        return None
    raw.seek(local.data_offset)
    data = raw.read(size)
    if local.method == zipfile.ZIP_STORED:
        return data
    if local.method == zipfile.ZIP_DEFLATED:
        try:
            return zlib.decompressobj(-15).decompress(data, MAX_INFLATE)
        except zlib.error:
            return None
    return None


def zip_differentials(
    raw: BinaryIO, infos: list[zipfile.ZipInfo], location: Location, size: int, *, torch: bool
) -> Iterator[Finding]:
    """Where Python's zipfile, PyTorch's reader and the local headers would disagree."""
    for info in infos:
        loc = _member(location, info.filename)
        local = local_header(raw, info)
        if local is None:
            yield rules.ARCHIVE_DIFFERENTIAL.finding(
                loc, "central directory points at no local header"
            )
            continue
        for why in _header_mismatches(info, local):
            yield rules.ARCHIVE_DIFFERENTIAL.finding(loc, why)
        raw_storage = torch and STORAGE.search(info.filename) is not None
        if (
            info.compress_type == zipfile.ZIP_STORED
            and info.file_size <= MAX_INFLATE
            and not info.filename.endswith("/")
            and not raw_storage  # never unpickled: a CRC check would read all tensor data
            and _crc(raw, local.data_offset, info.file_size) != info.CRC
        ):
            yield rules.ARCHIVE_DIFFERENTIAL.finding(
                loc, "stored data does not match its CRC (Python refuses it, other readers do not)"
            )
    end = _eocd_end(raw)
    if end is not None and end < size:
        yield rules.ARCHIVE_DIFFERENTIAL.finding(
            location, f"{size - end} bytes after the end-of-central-directory record"
        )


def _header_mismatches(info: zipfile.ZipInfo, local: LocalHeader) -> Iterator[str]:
    if local.name != info.orig_filename:
        yield f"local header names the member {local.name!r}"
    if (local.flags ^ info.flag_bits) & 0x1:
        yield "encryption flag differs between local and central headers"
    if local.method != info.compress_type:
        yield "compression method differs between headers"
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        yield (
            f"stored member claims {info.compress_size} bytes stored and {info.file_size} "
            "bytes of data (readers pick different ones)"
        )
    if (
        not local.flags & _DESCRIPTOR
        and (local.compress_size, local.file_size) != (0xFFFFFFFF,) * 2
    ):
        central = (info.CRC, info.compress_size, info.file_size)
        if (local.crc, local.compress_size, local.file_size) != central:
            yield "CRC or sizes differ between the local and central headers"
    if info.external_attr & _DOS_DIRECTORY and not info.filename.endswith("/"):
        yield "a file entry carries the directory attribute (PyTorch's reader skips it)"


def _crc(raw: BinaryIO, offset: int, n: int) -> int:
    raw.seek(offset)
    crc = 0
    while n > 0:
        chunk = raw.read(min(n, 1 << 20))
        if not chunk:
            break
        crc = zlib.crc32(chunk, crc)
        n -= len(chunk)
    return crc


def _eocd_end(raw: BinaryIO) -> int | None:
    raw.seek(0, 2)
    size = raw.tell()
    back = min(size, 65536 + 22)
    raw.seek(size - back)
    tail = raw.read(back)
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or i + 22 > len(tail):
        return None
    comment_len = int.from_bytes(tail[i + 20 : i + 22], "little")
    return size - back + i + 22 + comment_len


def _member(loc: Location, name: str) -> Location:
    return Location(file=loc.file, member=f"{loc.member}/{name}" if loc.member else name)
