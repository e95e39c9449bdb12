"""Format detection by content: magic bytes and structure, never the file name.

A malicious upload renames a pickle to ``model.safetensors``; a loader that trusts
extensions then runs it. Everything downstream (readers, the scanner) asks this module
what a file *is*.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickletools
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from weightwatch.artifacts.model import FileFormat
from weightwatch.artifacts.torchfile import ZIP_ERRORS

Opener = Callable[[], BinaryIO]
HEAD = 64 * 1024
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_PY_SNIFF_LIMIT = 1 << 20

_MAGICS: tuple[tuple[bytes, FileFormat], ...] = (
    (b"GGUF", FileFormat.GGUF),
    (b"\x93NUMPY", FileFormat.NUMPY),
    (b"\x89HDF\r\n\x1a\n", FileFormat.HDF5),
    (b"\x1f\x8b", FileFormat.GZIP),
    (b"BZh", FileFormat.BZIP2),
    (b"\xfd7zXZ\x00", FileFormat.XZ),
    (b"\x28\xb5\x2f\xfd", FileFormat.ZSTD),
    (b"\x04\x22\x4d\x18", FileFormat.LZ4),
    (b"7z\xbc\xaf\x27\x1c", FileFormat.SEVEN_ZIP),
)

# Opcodes a protocol 0/1 pickle can start with (MARK, EMPTY_*, GLOBAL, INT, ...).
_PICKLE01_START = frozenset(b"(]}clIFSVNLpgaKJ")


def detect_format(path: str | os.PathLike[str]) -> tuple[FileFormat, str]:
    """Return the format of ``path`` and a short human detail."""
    p = Path(path)
    if p.is_symlink():
        return FileFormat.SYMLINK, f"symlink -> {p.readlink()}"
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block a read forever
        return FileFormat.UNKNOWN, "not a regular file"
    size = st.st_size
    if size == 0:
        return FileFormat.EMPTY, ""
    with open(p, "rb") as f:
        head = f.read(HEAD)
        f.seek(max(0, size - 1))
        last = f.read(1)
    return detect_bytes(head, size=size, last=last, opener=lambda: open(p, "rb"))


def detect_bytes(
    head: bytes,
    *,
    size: int,
    last: bytes = b"",
    opener: Opener | None = None,
) -> tuple[FileFormat, str]:
    """Classify from the first bytes (``head``) and the total ``size``."""
    if size == 0 or not head:
        return FileFormat.EMPTY, ""
    for magic, fmt in _MAGICS:
        if head.startswith(magic):
            return fmt, ""
    if len(head) > 262 and head[257:262] == b"ustar":
        return FileFormat.TAR, ""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _classify_zip(opener)
    if _looks_like_safetensors(head, size):
        return FileFormat.SAFETENSORS, ""
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        if _is_torch_legacy(head):
            return FileFormat.PYTORCH_LEGACY, "legacy (pre-1.6) torch.save format"
        return FileFormat.PICKLE, f"pickle protocol {head[1]}"
    if head[0] in _PICKLE01_START and last == b"." and _parses_as_pickle(head):
        return FileFormat.PICKLE, "pickle protocol 0/1"
    if head[:1] == b"\x08" and (b"onnx" in head[:4096] or _looks_like_onnx(head)):
        return FileFormat.ONNX, ""
    return _classify_text(head, size, opener)


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if 2 <= n <= size - 8:
        return True
    # A length that cannot fit is a malformed safetensors file (for the reader to refuse)
    # when the length bytes are binary and JSON follows; text has printable bytes there.
    return head[9:10] in (b'"', b"}") and any(b < 9 or 13 < b < 32 or b > 126 for b in head[:8])


# ModelProto fields that follow ``ir_version`` (field 1): producer name/version, domain,
# model version, doc string, graph, opset imports, metadata, training info, functions.
_ONNX_NEXT = frozenset(b"\x12\x1a\x22\x28\x32\x3a\x42\x72\x7a\x8a\x92")


def _looks_like_onnx(head: bytes) -> bool:
    """``ir_version`` (a small varint) then another ModelProto field key (exporters such
    as torch write ``producer_name: "pytorch"``, so the word "onnx" need not appear)."""
    return len(head) > 4 and 1 <= head[1] <= 15 and head[2] in _ONNX_NEXT


def _is_torch_legacy(head: bytes) -> bool:
    # torch.save legacy: pickle(magic_number) where magic is a 10-byte LONG1.
    if head[2:4] != b"\x8a\x0a" or len(head) < 14:
        return False
    return int.from_bytes(head[4:14], "little") == TORCH_LEGACY_MAGIC


def _parses_as_pickle(head: bytes) -> bool:
    ops = 0
    try:
        for _op, _arg, _pos in pickletools.genops(io.BytesIO(head)):
            ops += 1
            if ops >= 16:
                return True
    except Exception:  # a truncated head still counts if it parsed a few opcodes
        return ops >= 3
    return ops >= 2


def _classify_zip(opener: Opener | None) -> tuple[FileFormat, str]:
    if opener is None:
        return FileFormat.ZIP, ""
    try:
        with opener() as f, zipfile.ZipFile(f) as zf:
            names = zf.namelist()
    except ZIP_ERRORS:
        return FileFormat.ZIP, "unreadable zip directory"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return FileFormat.PYTORCH_ZIP, "torch.save zip format"
    if names and all(n.endswith(".npy") for n in names):
        return FileFormat.NUMPY_ZIP, f"{len(names)} arrays"
    if "config.json" in names and any(n.endswith(".h5") for n in names):
        return FileFormat.ZIP, "Keras v3 archive"
    return FileFormat.ZIP, f"{len(names)} entries"


def _classify_text(head: bytes, size: int, opener: Opener | None) -> tuple[FileFormat, str]:
    if b"\x00" in head:
        return FileFormat.UNKNOWN, "binary"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the sniff boundary
            return FileFormat.UNKNOWN, "binary"
        text = head[: exc.start].decode("utf-8")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and size <= HEAD:
        try:
            json.loads(text)
            return FileFormat.JSON, ""
        except ValueError:
            pass
    elif stripped[:1] in ("{", "[") and _json_start(stripped):
        return FileFormat.JSON, "not fully validated (large)"
    if size <= _PY_SNIFF_LIMIT and opener is not None and _looks_like_python(text, size, opener):
        return FileFormat.PYTHON, ""
    return FileFormat.TEXT, ""


def _json_start(text: str) -> bool:
    """Whether what follows an opening bracket can start JSON: a WordPiece ``vocab.txt``
    opens with ``[PAD]`` and is text, not broken JSON."""
    after = text[1:].lstrip()[:1]
    if not after:
        return True
    allowed = '"}' if text[0] == "{" else '"{[]-0123456789tfn'
    return after in allowed


def _looks_like_python(text: str, size: int, opener: Opener) -> bool:
    if not any(k in text for k in ("import ", "def ", "class ")):
        return False
    if size > len(text.encode()):
        with opener() as f:
            text = f.read().decode("utf-8", errors="replace")
    try:
        tree = ast.parse(text)  # parsing only; nothing is compiled or run
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(
        isinstance(n, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)
        for n in tree.body
    )
