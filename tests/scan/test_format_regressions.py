"""Bugs the format differential fuzzer (``test_format_differentials.py``) found, each
failing before its fix: bytes of a safetensors or GGUF data section that no tensor covers
went unscanned (the scanner only looked after the *last* tensor, so a pickle in a file
with no tensors, or between two tensors, scanned clean), and a GGUF key or tensor named
twice was read as its last value where the reference readers refuse the file."""

from __future__ import annotations

import json
import struct

from weightwatch.scan import Verdict, scan_paths
from weightwatch.testing.pickle_bytes import SYSTEM


def _safetensors(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _scan(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    return scan_paths([tmp_path / name]).files[0]


def test_a_pickle_after_a_header_with_no_tensors_is_caught(tmp_path):
    report = _scan(tmp_path, "model.safetensors", _safetensors({}, SYSTEM))
    assert report.verdict is Verdict.MALICIOUS
    assert "WW-FILE-003" in {f.rule_id for f in report.findings}


def test_a_pickle_between_two_tensors_is_caught(tmp_path):
    w = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    b = {"dtype": "F32", "shape": [2], "data_offsets": [8 + len(SYSTEM), 16 + len(SYSTEM)]}
    data = b"\0" * 8 + SYSTEM + b"\0" * 8
    report = _scan(tmp_path, "model.safetensors", _safetensors({"w": w, "b": b}, data))
    assert report.verdict is Verdict.MALICIOUS
    holes = [f for f in report.findings if f.rule_id == "WW-FILE-003"]
    assert holes and "no tensor covers" in holes[0].explanation


def test_zero_gap_in_safetensors_is_still_reported(tmp_path):
    """safetensors never pads: even zeros between tensors are bytes a loader does not expect."""
    w = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    b = {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}
    report = _scan(tmp_path, "m.safetensors", _safetensors({"w": w, "b": b}, b"\0" * 20))
    assert "WW-FILE-003" in {f.rule_id for f in report.findings}


def _gguf(gap: bytes) -> bytes:
    """One F32 tensor of 4 values placed after ``gap`` (rounded up to the alignment)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0)
    span = -(-len(gap) // 32) * 32
    head += struct.pack("<Q", 1) + b"w" + struct.pack("<IQIQ", 1, 4, 0, span)
    start = -(-len(head) // 32) * 32
    return head + b"\0" * (start - len(head)) + gap.ljust(span, b"\0") + b"\0" * 16


def test_a_pickle_before_the_first_gguf_tensor_is_caught(tmp_path):
    report = _scan(tmp_path, "model.gguf", _gguf(SYSTEM))
    assert report.verdict is Verdict.MALICIOUS


def test_gguf_alignment_padding_is_not_reported(tmp_path):
    assert _scan(tmp_path, "model.gguf", _gguf(b"")).findings == []


def _gguf_kv(*keys: bytes, tensors: tuple[bytes, ...] = ()) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(keys))
    for k in keys:
        head += struct.pack("<Q", len(k)) + k + struct.pack("<IQ", 8, 1) + b"x"
    for i, t in enumerate(tensors):
        head += struct.pack("<Q", len(t)) + t + struct.pack("<IQIQ", 1, 8, 0, 32 * i)
    start = -(-len(head) // 32) * 32
    return head + b"\0" * (start - len(head)) + b"\0" * 32 * len(tensors)


def test_a_gguf_key_given_twice_is_refused(tmp_path):
    """llama.cpp and gguf.GGUFReader refuse a repeated key; we kept the last value, so a
    second ``tokenizer.chat_template`` could be the one we analysed while another reader
    used the first (found by the format differential fuzzer)."""
    report = _scan(
        tmp_path, "m.gguf", _gguf_kv(b"tokenizer.chat_template", b"tokenizer.chat_template")
    )
    assert report.verdict is not Verdict.CLEAN and "twice" in (report.error or "")
    report = _scan(tmp_path, "t.gguf", _gguf_kv(b"a", tensors=(b"w", b"w")))
    assert report.verdict is not Verdict.CLEAN and "twice" in (report.error or "")


def _central(raw: bytearray, name: bytes) -> int:
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46 : at + 46 + len(name)] != name:
        at = raw.find(b"PK\x01\x02", at + 4)
    return at


def test_a_stored_pickle_whose_central_size_is_cut_short_is_still_caught(tmp_path):
    """PyTorch's reader reads a stored member by its uncompressed size; Python's zipfile by
    the compressed one (then refuses the CRC). We analysed the lenient read of the
    *compressed* size, one byte of the pickle, and found nothing, while torch.load ran it."""
    from tests.scan.real_loaders import RealLoaders
    from weightwatch.testing.pickle_bytes import torch_zip

    raw = bytearray(torch_zip(SYSTEM))
    at = _central(raw, b"archive/data.pkl")
    raw[at + 20 : at + 24] = struct.pack("<I", 1)  # compressed size: 1 byte
    path = tmp_path / "cut.pt"
    path.write_bytes(bytes(raw))
    real = RealLoaders()
    try:
        assert "os.system" in real.run("torch", path)["attempts"]  # torch.load runs it
    finally:
        real.close()
    report = scan_paths([path]).files[0]
    assert report.verdict is Verdict.MALICIOUS
    assert "WW-ARCHIVE-001" in {f.rule_id for f in report.findings}


def test_a_member_marked_as_a_directory_is_a_differential(tmp_path):
    """PyTorch's reader skips a file entry carrying the MS-DOS directory attribute; Python
    reads it: the two loaders see different files."""
    from weightwatch.testing.pickle_bytes import torch_zip

    raw = bytearray(torch_zip(b"\x80\x02}q\x00."))
    at = _central(raw, b"archive/data.pkl")
    raw[at + 38] |= 0x10
    report = _scan(tmp_path, "dir.pt", bytes(raw))
    assert "WW-ARCHIVE-001" in {f.rule_id for f in report.findings}


def test_gguf_alignment_of_another_type_is_refused(tmp_path):
    """llama.cpp and gguf.GGUFReader take general.alignment only as a uint32; we took any
    integer, so readers placed the data section at different offsets."""
    key = b"general.alignment"
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    head += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 10, 64)  # uint64
    report = _scan(tmp_path, "a.gguf", head + b"\0" * 64)
    assert report.verdict is not Verdict.CLEAN and "uint32" in (report.error or "")


def test_a_zip_member_flipped_to_deflate_over_stored_bytes_is_a_finding_not_a_crash(tmp_path):
    """Regression (found by test_zip_differentials' fuzzer): a torch zip whose member
    claims deflate over stored bytes raised ``zlib.error`` out of the scanner."""
    import io
    import zipfile

    from weightwatch.scan import Severity, scan_paths

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/version", b"3\n")
    data = bytearray(buf.getvalue())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # method = deflate in both headers
        at = data.find(sig)
        at += 8 if sig == b"PK\x03\x04" else 10
        data[at : at + 2] = (8).to_bytes(2, "little")
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(data))
    report = scan_paths([str(path)])
    assert any(f.severity >= Severity.MEDIUM for f in report.findings()), report.findings()
