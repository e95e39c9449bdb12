"""Pickle streams built from bytes for the scanner corpora (nothing is pickled from live
objects): shared by the labelled corpus and its loading-path entries."""

from __future__ import annotations

import io
import struct
import zipfile


def _str(s: str) -> bytes:
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b if len(b) < 256 else b"X" + struct.pack("<I", len(b)) + b


def stack_global(module: str, qualname: str) -> bytes:
    return _str(module) + _str(qualname) + b"\x93"


def call(module: str, qualname: str, *args: str | bytes, proto: int = 4) -> bytes:
    """PROTO, STACK_GLOBAL module.qualname, a tuple of constant args, REDUCE, STOP."""
    body = stack_global(module, qualname) + b"(" + b"".join(_const(a) for a in args) + b"tR."
    return b"\x80" + bytes([proto]) + body


def _const(a: str | bytes) -> bytes:
    if isinstance(a, bytes):
        return b"C" + bytes([len(a)]) + a if len(a) < 256 else b"B" + struct.pack("<I", len(a)) + a
    return _str(a)


def proto0_global(module: str, name: str, arg: str) -> bytes:
    return f"c{module}\n{name}\n(V{arg}\ntR.".encode()


def proto0_inst(module: str, name: str, arg: str) -> bytes:
    return f"(V{arg}\ni{module}\n{name}\n.".encode()


def torch_zip(data_pkl: bytes, *, name: str = "archive", pkl_name: str = "data.pkl") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/{pkl_name}", data_pkl)
        zf.writestr(f"{name}/byteorder", b"little")
        zf.writestr(f"{name}/version", b"3\n")
    return buf.getvalue()


def legacy_torch(data_pkl: bytes) -> bytes:
    head = (
        b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
        b"\x80\x02M\xe9\x03."
        b"\x80\x02}q\x00(X\x10\x00\x00\x00protocol_versionq\x01M\xe9\x03u."
    )
    return head + data_pkl + b"\x80\x02]q\x00."


SYSTEM = call("posix", "system", "true")
