"""Bytes of a safetensors or GGUF data section that no tensor covers are reported and
scanned, wherever they are — found by the format differential fuzzer
(``test_format_differentials.py``): the reference readers refuse these files, our reader
read them, and the scanner only looked after the *last* tensor, so a pickle in a file with
no tensors, or between two tensors, scanned clean."""

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
