"""Decode pickle opcodes from a buffer without building any object a loader would build.

``pickletools.genops`` needs a file, copies every argument and stops with a bare
``ValueError``; this decoder reads a ``memoryview`` (bytes, an mmap) in place, returns
byte arguments as zero-copy slices, never trusts a length field beyond the bytes that
are present, and reports where and why a stream breaks. The opcode table itself comes
from ``pickletools`` so every protocol (0-5) is covered.
"""

from __future__ import annotations

import codecs
import pickletools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_LINE = 1 << 20  # newline-terminated arguments (protocol 0) longer than this are refused


@dataclass(frozen=True, slots=True)
class OpInfo:
    name: str
    code: int
    arg: str | None  # pickletools' argument descriptor name
    proto: int  # protocol that introduced the opcode


class Malformed(Exception):
    """The stream breaks at ``pos``: a loader would raise here, after running what came before."""

    def __init__(self, pos: int, reason: str) -> None:
        super().__init__(f"byte {pos}: {reason}")
        self.pos = pos
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LongText:
    """A text constant too long to decode for analysis (only its length is kept)."""

    length: int


TABLE: list[OpInfo | None] = [None] * 256
for _op in pickletools.opcodes:
    _code = ord(_op.code)
    TABLE[_code] = OpInfo(_op.name, _code, _op.arg.name if _op.arg else None, _op.proto)

_U1, _U2, _I4, _U4, _U8, _F8 = (struct.Struct(f) for f in ("<B", "<H", "<i", "<I", "<Q", ">d"))
_FIXED = {"uint1": _U1, "uint2": _U2, "int4": _I4, "uint4": _U4, "uint8": _U8, "float8": _F8}
_COUNTED = {  # descriptor -> (length field, what the payload is)
    "string1": (_U1, "latin1"),
    "string4": (_I4, "latin1"),
    "bytes1": (_U1, "bytes"),
    "bytes4": (_U4, "bytes"),
    "bytes8": (_U8, "bytes"),
    "bytearray8": (_U8, "bytes"),
    "unicodestring1": (_U1, "utf8"),
    "unicodestring4": (_U4, "utf8"),
    "unicodestring8": (_U8, "utf8"),
    "long1": (_U1, "long"),
    "long4": (_I4, "long"),
}
_CONSTANTS: dict[str, Any] = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}


def _line(buf: memoryview, pos: int) -> tuple[bytes, int]:
    """The bytes up to the next newline (without it) and the position after it."""
    n = len(buf)
    size = 256
    while True:
        end = min(n, pos + size)
        chunk = bytes(buf[pos:end])
        i = chunk.find(b"\n")
        if i >= 0:
            return chunk[:i], pos + i + 1
        if end >= n:
            raise Malformed(pos, "line argument runs past the end of the data")
        if size >= MAX_LINE:
            raise Malformed(pos, f"line argument longer than {MAX_LINE} bytes")
        size *= 4


def _text(raw: memoryview | bytes, how: str, max_text: int) -> Any:
    if len(raw) > max_text:
        return LongText(len(raw))
    if how == "latin1":
        return bytes(raw).decode("latin-1")
    try:
        return bytes(raw).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:  # the loader fails here too
        raise Malformed(-1, f"invalid UTF-8 in a text argument: {exc.reason}") from None


def _decimal(line: bytes, pos: int, *, long: bool) -> int | bool:
    text = line.decode("ascii", "replace").strip()
    if long and text.endswith("L"):
        text = text[:-1]
    if not long and text in ("00", "01"):
        return text == "01"
    try:
        return int(text, 10)
    except ValueError:
        raise Malformed(pos, f"bad integer literal {text[:40]!r}") from None


def _newline_arg(kind: str, buf: memoryview, pos: int, max_text: int) -> tuple[Any, int]:
    line, after = _line(buf, pos)
    if kind == "stringnl_noescape_pair":
        second, after = _line(buf, after)
        return (line.decode("utf-8", "replace"), second.decode("utf-8", "replace")), after
    if kind == "stringnl_noescape":
        return line.decode("utf-8", "replace"), after
    if kind in ("decimalnl_short", "decimalnl_long"):
        return _decimal(line, pos, long=kind == "decimalnl_long"), after
    if kind == "floatnl":
        try:
            return float(line), after
        except ValueError:
            raise Malformed(pos, "bad float literal") from None
    if len(line) > max_text:
        return LongText(len(line)), after
    if kind == "stringnl":
        if len(line) < 2 or line[:1] != line[-1:] or line[:1] not in (b"'", b'"'):
            raise Malformed(pos, "STRING argument is not quoted")
        try:
            return codecs.escape_decode(line[1:-1])[0].decode("latin-1"), after  # type: ignore[attr-defined]
        except ValueError:
            raise Malformed(pos, "bad escape in STRING argument") from None
    # unicodestringnl
    return line.decode("raw-unicode-escape", "replace"), after


def read_ops(
    buf: memoryview, start: int, *, max_text: int
) -> Iterator[tuple[OpInfo, Any, int]]:
    """Yield ``(opcode, argument, offset)`` from ``start`` through STOP.

    Raises ``Malformed`` where a loader would fail; text longer than ``max_text`` comes
    back as ``LongText`` and bytes as ``memoryview`` slices of ``buf``.
    """
    n = len(buf)
    pos = start
    while True:
        if pos >= n:
            raise Malformed(pos, "data ends before STOP")
        info = TABLE[buf[pos]]
        if info is None:
            raise Malformed(pos, f"unknown opcode 0x{buf[pos]:02x}")
        p = pos + 1
        kind = info.arg
        arg: Any
        if kind is None:
            arg = _CONSTANTS.get(info.name)
        elif kind in _FIXED:
            fmt = _FIXED[kind]
            if p + fmt.size > n:
                raise Malformed(pos, f"{info.name} argument is truncated")
            arg = fmt.unpack_from(buf, p)[0]
            p += fmt.size
        elif kind in _COUNTED:
            field, how = _COUNTED[kind]
            if p + field.size > n:
                raise Malformed(pos, f"{info.name} length is truncated")
            length = field.unpack_from(buf, p)[0]
            p += field.size
            if length < 0:
                raise Malformed(pos, f"{info.name} has a negative length")
            if length > n - p:  # never believe a length beyond the data present
                raise Malformed(pos, f"{info.name} claims {length} bytes, {n - p} remain")
            raw = buf[p : p + length]
            p += length
            if how == "bytes":
                arg = raw
            elif how == "long":
                arg = int.from_bytes(raw, "little", signed=True) if length <= 4096 else 0
            else:
                try:
                    arg = _text(raw, how, max_text)
                except Malformed as exc:
                    raise Malformed(pos, exc.reason) from None
        else:
            arg, p = _newline_arg(kind, buf, p, max_text)
        yield info, arg, pos
        if info.name == "STOP":
            return
        pos = p
