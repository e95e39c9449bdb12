"""Hypothesis strategies for the format differential tests: safetensors, GGUF and zip files
built field by field, then bent where readers are known to differ (duplicate keys,
overlapping and out-of-order offsets, huge lengths, non-UTF-8, ``__metadata__`` oddities,
trailing bytes; GGUF counts, alignments, string lengths and tensor offsets; zip central
directory against local headers, duplicate names, data descriptors, ZIP64, prepended junk).
Every file is small: a mutant claims huge sizes, it never has them."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

from hypothesis import strategies as st

from weightwatch.testing.pickle_bytes import SYSTEM

# dtype -> bytes per element, as the safetensors format names them (F8 and unsigned included)
ST_DTYPES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
    "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
NAMES = st.sampled_from(["w", "b", "model.layers.0.weight", "é", "__metadata__", "w "])
PAYLOADS = [SYSTEM, b"\0" * 8, b"\0" * 80, b"junk", b"PK\x05\x06" + b"\0" * 18]


def _st_bytes(entries: list[tuple[str, dict[str, object]]], data: bytes, *, pad: int = 0) -> bytes:
    header = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in entries) + "}"
    raw = header.encode() + b" " * pad
    return struct.pack("<Q", len(raw)) + raw + data


@st.composite
def safetensors_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(what was done, bytes)."""
    n = draw(st.integers(0, 3))
    entries: list[tuple[str, dict[str, object]]] = []
    data = b""
    names = draw(
        st.lists(NAMES.filter(lambda s: s != "__metadata__"), min_size=n, max_size=n, unique=True)
    )
    for name in names:
        dtype = draw(st.sampled_from(sorted(ST_DTYPES)))
        shape = draw(st.lists(st.integers(0, 3), max_size=2))
        size = ST_DTYPES[dtype]
        for d in shape:
            size *= d
        blob = draw(st.binary(min_size=size, max_size=size))
        if dtype == "BOOL":
            blob = bytes(b & 1 for b in blob)
        entries.append(
            (name, {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]})
        )
        data += blob
    if draw(st.booleans()):
        meta: object = {"format": "pt"}
        entries.insert(draw(st.integers(0, len(entries))), ("__metadata__", meta))  # type: ignore[arg-type]
    pad = draw(st.sampled_from([0, 0, 3, 7]))
    what = draw(
        st.sampled_from(
            ["none", "dup-key", "overlap", "gap", "reorder", "huge-header", "huge-offset",
             "non-utf8", "meta-odd", "trailing", "leading-space", "shape-odd", "truncate",
             "dtype-odd", "empty-name"]
        )
    )  # fmt: skip
    if what == "dup-key" and entries:
        k, v = entries[draw(st.integers(0, len(entries) - 1))]
        other = dict(v) if isinstance(v, dict) else v
        if isinstance(other, dict) and "data_offsets" in other:
            other["data_offsets"] = [0, 0]
            other["shape"] = [0]
        entries.append((k, other))  # type: ignore[arg-type]
    elif what == "overlap" and len([e for e in entries if e[0] != "__metadata__"]) >= 2:
        tensors = [e for e in entries if e[0] != "__metadata__"]
        tensors[1][1]["data_offsets"] = list(tensors[0][1]["data_offsets"])  # type: ignore[call-overload]
        tensors[1][1]["shape"] = list(tensors[0][1]["shape"])  # type: ignore[call-overload]
        tensors[1][1]["dtype"] = tensors[0][1]["dtype"]
    elif what == "gap" and entries:
        k = draw(st.integers(1, 16))
        gap = draw(st.sampled_from(PAYLOADS))[:k].ljust(k, b"\0")
        at = draw(st.integers(0, len(data)))
        for _name, v in entries:
            if isinstance(v, dict) and "data_offsets" in v:
                b0, e0 = v["data_offsets"]  # type: ignore[misc]
                if b0 >= at and not (b0 == e0 == at and at == len(data)):
                    v["data_offsets"] = [b0 + k, e0 + k]
        data = data[:at] + gap + data[at:]
    elif what == "reorder":
        entries.reverse()
    elif what == "huge-header":
        raw = _st_bytes(entries, data, pad=pad)
        n_claim = draw(st.sampled_from([2**63, 2**32, len(raw), 100 * 1024 * 1024 + 1]))
        return what, struct.pack("<Q", n_claim) + raw[8:]
    elif what == "huge-offset" and entries:
        v = entries[-1][1]
        if isinstance(v, dict) and "data_offsets" in v:
            v["data_offsets"] = [draw(st.sampled_from([2**53, 2**64 - 1, -1])), 2**64 - 1]
    elif what == "non-utf8":
        raw = _st_bytes(entries, data, pad=pad)
        at = draw(st.integers(8, max(8, len(raw) - len(data) - 1)))
        return what, raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[
            at:
        ]
    elif what == "meta-odd":
        odd = draw(st.sampled_from([{"a": 1}, ["x"], None, {"a": {"b": "c"}}, "s", {"": ""}]))
        entries = [e for e in entries if e[0] != "__metadata__"] + [("__metadata__", odd)]  # type: ignore[list-item]
    elif what == "trailing":
        data += draw(st.sampled_from(PAYLOADS))
    elif what == "leading-space":
        raw = _st_bytes(entries, data, pad=pad)
        n = struct.unpack("<Q", raw[:8])[0]
        return what, struct.pack("<Q", n + 1) + b" " + raw[8:]
    elif what == "shape-odd" and entries:
        v = entries[-1][1]
        if isinstance(v, dict) and "shape" in v:
            v["shape"] = draw(st.sampled_from([[-1], [1.0], [True], "3", [2**62, 2**62], None]))
    elif what == "truncate":
        raw = _st_bytes(entries, data, pad=pad)
        return what, raw[: draw(st.integers(0, len(raw)))]
    elif what == "dtype-odd" and entries:
        v = entries[-1][1]
        if isinstance(v, dict) and "dtype" in v:
            v["dtype"] = draw(st.sampled_from(["f32", "F4", "C64", "", 1, "E8M0"]))
    elif what == "empty-name" and entries:
        entries[0] = ("", entries[0][1])
    return what, _st_bytes(entries, data, pad=pad)


# --- GGUF -------------------------------------------------------------------------------

_U32, _I32, _STR, _ARR, _U64 = 4, 5, 8, 9, 10


def _gstr(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _kv(key: bytes, vtype: int, value: object) -> bytes:
    out = _gstr(key) + struct.pack("<I", vtype)
    if vtype == _STR:
        return out + _gstr(value)  # type: ignore[arg-type]
    if vtype == _U32:
        return out + struct.pack("<I", value)
    if vtype == _I32:
        return out + struct.pack("<i", value)
    if vtype == _U64:
        return out + struct.pack("<Q", value)
    items = value  # an array of strings
    return out + struct.pack("<IQ", _STR, len(items)) + b"".join(_gstr(s) for s in items)  # type: ignore[union-attr]


@st.composite
def gguf_files(draw: st.DrawFn) -> tuple[str, bytes]:
    align = 32
    kvs: list[tuple[bytes, int, object]] = [
        (b"general.architecture", _STR, b"llama"),
        (
            b"tokenizer.chat_template",
            _STR,
            b"{% for m in messages %}{{ m['content'] }}{% endfor %}",
        ),
        (b"tokenizer.ggml.tokens", _ARR, [b"a", b"b", b"<s>"]),
    ]
    n = draw(st.integers(1, 3))
    tensors: list[tuple[bytes, tuple[int, ...], int, int]] = []  # name, dims, type, offset
    blobs: list[bytes] = []
    offset = 0
    for i in range(n):
        dims = (draw(st.sampled_from([1, 2, 4, 32])),)
        ttype = draw(st.sampled_from([0, 1]))  # F32, F16
        size = dims[0] * (4 if ttype == 0 else 2)
        tensors.append((f"blk.{i}.w".encode(), dims, ttype, offset))
        blob = draw(st.binary(min_size=size, max_size=size))
        blobs.append(blob)
        offset += -(-size // align) * align
    what = draw(
        st.sampled_from(
            ["none", "dup-key", "dup-template", "dup-tensor", "kv-count", "tensor-count",
             "align-value", "align-type", "string-length", "tensor-offset", "gap", "trailing",
             "dims", "truncate", "tensor-type", "overlap"]
        )
    )  # fmt: skip
    n_kv_delta = n_t_delta = 0
    if what == "dup-key":
        kvs.append((b"general.architecture", _STR, b"gpt2"))
    elif what == "dup-template":
        kvs.append((b"tokenizer.chat_template", _STR, b"{{ cycler.__init__.__globals__.os }}"))
    elif what == "dup-tensor":
        tensors.append((tensors[0][0], tensors[0][1], tensors[0][2], tensors[0][3]))
    elif what == "kv-count":
        n_kv_delta = draw(st.sampled_from([-1, 1, 2**40]))
    elif what == "tensor-count":
        n_t_delta = draw(st.sampled_from([-1, 1, 2**40]))
    elif what == "align-value":
        align_v = draw(st.sampled_from([0, 3, 1, 64, 2**31]))
        kvs.append((b"general.alignment", _U32, align_v))
        if align_v and not align_v & (align_v - 1) and align_v <= 64:  # never build 2 GiB
            align = align_v
            tensors, offset = _relayout(tensors, blobs, align)
    elif what == "align-type":
        kvs.append((b"general.alignment", draw(st.sampled_from([_U64, _I32])), 64))
    elif what == "tensor-offset":
        i = draw(st.integers(0, len(tensors) - 1))
        name, dims, ttype, _o = tensors[i]
        tensors[i] = (name, dims, ttype, draw(st.sampled_from([1, 16, 2**40, 2**64 - 1])))
    elif what == "overlap" and len(tensors) > 1:
        name, dims, ttype, _o = tensors[1]
        tensors[1] = (name, dims, ttype, tensors[0][3])
    elif what == "dims":
        name, _d, ttype, o = tensors[0]
        tensors[0] = (name, draw(st.sampled_from([(), (0,), (1, 1, 1, 1, 1), (2**40,)])), ttype, o)
    elif what == "tensor-type":
        name, dims, _t, o = tensors[0]
        tensors[0] = (name, dims, draw(st.sampled_from([2, 4, 99, 2**31])), o)
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors) + n_t_delta, len(kvs) + n_kv_delta)
    header += b"".join(_kv(k, t, v) for k, t, v in kvs)
    for name, dims, ttype, o in tensors:
        header += _gstr(name) + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
        header += struct.pack("<IQ", ttype, o)
    if what == "string-length":
        i = header.find(b"llama") - 8
        header = (
            header[:i] + struct.pack("<Q", draw(st.sampled_from([4, 6, 2**40]))) + header[i + 8 :]
        )
    data_start = -(-len(header) // align) * align
    body = bytearray(max(offset, 0))
    at = 0
    for blob in blobs:
        body[at : at + len(blob)] = blob
        at += -(-len(blob) // align) * align
    out = header + b"\0" * (data_start - len(header)) + bytes(body)
    if what == "gap":
        # bytes between two tensors that no tensor covers (offsets moved past them)
        out = _gguf_gap(draw, header, blobs, tensors, kvs, align)
    elif what == "trailing":
        out += draw(st.sampled_from(PAYLOADS))
    elif what == "truncate":
        out = out[: draw(st.integers(0, len(out)))]
    return what, out


def _relayout(
    tensors: list[tuple[bytes, tuple[int, ...], int, int]], blobs: list[bytes], align: int
) -> tuple[list[tuple[bytes, tuple[int, ...], int, int]], int]:
    out, offset = [], 0
    for (name, dims, ttype, _o), blob in zip(tensors, blobs, strict=True):
        out.append((name, dims, ttype, offset))
        offset += -(-len(blob) // align) * align
    return out, offset


def _gguf_gap(
    draw: st.DrawFn,
    header: bytes,
    blobs: list[bytes],
    tensors: list[tuple[bytes, tuple[int, ...], int, int]],
    kvs: list[tuple[bytes, int, object]],
    align: int,
) -> bytes:
    gap = draw(st.sampled_from(PAYLOADS[:1] + PAYLOADS[2:]))
    span = -(-len(gap) // align) * align
    moved = [(n, d, t, o + span) for n, d, t, o in tensors]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(moved), len(kvs))
    head += b"".join(_kv(k, t, v) for k, t, v in kvs)
    for name, dims, ttype, o in moved:
        head += (
            _gstr(name)
            + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
            + struct.pack("<IQ", ttype, o)
        )
    start = -(-len(head) // align) * align
    body = gap.ljust(span, b"\0")
    for blob in blobs:
        body += blob.ljust(-(-len(blob) // align) * align, b"\0")
    return head + b"\0" * (start - len(head)) + body


# --- zip ---------------------------------------------------------------------------------


def _seed_zip(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if kind == "torch":
            zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
            zf.writestr("archive/byteorder", b"little")
            zf.writestr("archive/data/0", b"\0" * 8)
            zf.writestr("archive/version", b"3\n")
        else:
            zf.writestr("w.npy", b"\x93NUMPY\x01\x00v\x00" + b" " * 118)
            zf.writestr("b.npy", b"x" * 40, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@st.composite
def zip_files(draw: st.DrawFn) -> tuple[str, bytes]:
    data = bytearray(_seed_zip(draw(st.sampled_from(["torch", "npz"]))))
    what = draw(
        st.sampled_from(
            ["none", "prepend", "append", "dup-name", "local-name", "descriptor", "zip64",
             "concat", "crc", "method", "flip-central", "comment", "local-size"]
        )
    )  # fmt: skip
    first = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    if what == "prepend":
        data[0:0] = draw(st.sampled_from([b"junk", SYSTEM, b"PK\x03\x04" + b"\0" * 26]))
    elif what == "append":
        data += draw(st.sampled_from(PAYLOADS))
    elif what == "dup-name":
        src = zipfile.ZipFile(io.BytesIO(bytes(data)))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            dst.writestr(src.infolist()[0].filename, SYSTEM)
        data = bytearray(out.getvalue())
    elif what == "local-name":
        n = struct.unpack("<H", data[first + 26 : first + 28])[0]
        at = first + 30 + draw(st.integers(0, max(0, n - 1)))
        data[at] = ord("X") if data[at] != ord("X") else ord("Y")
    elif what == "descriptor":
        data[first + 6] |= 0x08  # sizes and CRC "follow the data" (but are not there)
        data[first + 14 : first + 26] = b"\0" * 12
    elif what == "zip64":
        out = io.BytesIO()
        src = zipfile.ZipFile(io.BytesIO(bytes(data)))
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                with dst.open(info.filename, "w", force_zip64=True) as f:
                    f.write(src.read(info))
        data = bytearray(out.getvalue())
    elif what == "concat":
        other = bytearray(_seed_zip("torch"))
        i = other.find(b"archive/data.pkl")
        other[i + 8 : i + 16] = b"data.pkl"[:8]
        data += other
    elif what == "crc" and central > 0:
        data[central + 16 : central + 20] = struct.pack("<I", zlib.crc32(b"other"))
    elif what == "method":
        data[first + 8] = 8 if data[first + 8] == 0 else 0
    elif what == "flip-central" and central > 0:
        at = draw(st.integers(central, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    elif what == "comment":
        end = data.rfind(b"PK\x05\x06")
        data[end + 20 : end + 22] = struct.pack("<H", draw(st.sampled_from([1, 100, 65535])))
    elif what == "local-size":
        size = struct.unpack("<I", data[first + 22 : first + 26])[0]
        data[first + 18 : first + 26] = struct.pack("<II", size + 4, size + 4)
    return what, bytes(data)
