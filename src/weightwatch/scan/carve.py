"""torch.distributed.checkpoint data files: pickles at offsets only ``.metadata`` knows.

``FileSystemReader`` reads each non-tensor item of a distributed checkpoint as the byte
range ``.metadata`` names inside a ``*.distcp`` file and hands it to
``torch.load(weights_only=False)`` (``DefaultLoadPlanner.load_bytes``; found by the
loading-path inventory, docs/scanner.md). Those ranges can sit anywhere — after raw
tensor bytes, say — where detection by the file's first bytes sees "unknown". So every
zip embedded in such a file (found by its end-of-central-directory record) and every
legacy ``torch.save`` stream (found by its magic number) is examined in place.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

from weightwatch.artifacts.model import FileFormat
from weightwatch.scan.containers import Blob, examine, member_loc
from weightwatch.scan.findings import Finding, Location

_EOCD = re.compile(rb"PK\x05\x06")
# torch.save's legacy format opens with PROTO 2 and its magic number as a LONG1
_LEGACY = re.compile(re.escape(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."))
MAX_CARVED = 10_000  # embedded pieces examined per file


def is_checkpoint_data(path: Path) -> bool:
    """A distributed checkpoint's data file: ``*.distcp``, or any file beside ``.metadata``."""
    return path.suffix == ".distcp" or (path.parent / ".metadata").is_file()


def carve(path: Path, loc: Location) -> Iterator[Finding]:
    data = path.read_bytes()
    pieces = 0
    for m in _EOCD.finditer(data):
        end = m.start()
        if end + 22 > len(data) or pieces >= MAX_CARVED:
            continue
        cd_size, cd_offset = struct.unpack_from("<II", data, end + 12)
        (comment,) = struct.unpack_from("<H", data, end + 20)
        start = end - cd_size - cd_offset
        if start < 0 or (start == 0 and end + 22 + comment >= len(data)):
            continue  # not a zip, or the whole file (already examined as one)
        pieces += 1
        piece = data[start : end + 22 + comment]
        yield from examine(Blob(piece, member_loc(loc, f"@{start}")), None)
    for m in _LEGACY.finditer(data):
        if m.start() == 0 or pieces >= MAX_CARVED:
            continue
        pieces += 1
        piece = data[m.start() :]
        yield from examine(Blob(piece, member_loc(loc, f"@{m.start()}")), FileFormat.PYTORCH_LEGACY)
