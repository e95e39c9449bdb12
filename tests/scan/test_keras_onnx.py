"""Keras Lambda layers and custom objects, ONNX external data paths."""

from __future__ import annotations

import io
import json
import zipfile

from weightwatch.scan import Verdict, scan_paths


def _keras_config(*layers: dict) -> dict:
    return {
        "module": "keras",
        "class_name": "Functional",
        "config": {"name": "m", "layers": list(layers)},
    }


DENSE = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 4}}
LAMBDA = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "lam",
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}},
    },
}
CUSTOM = {
    "module": "evil_pkg.layers",
    "class_name": "Backdoor",
    "registered_name": "Backdoor",
    "config": {"name": "b"},
}


def _keras_zip(config: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    return buf.getvalue()


def _scan(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return scan_paths([p]).files[0]


def test_keras_archives(tmp_path):
    assert _scan(tmp_path, "ok.keras", _keras_zip(_keras_config(DENSE))).verdict is Verdict.CLEAN
    lam = _scan(tmp_path, "lam.keras", _keras_zip(_keras_config(DENSE, LAMBDA)))
    assert lam.verdict is Verdict.MALICIOUS and {f.rule_id for f in lam.findings} == {
        "WW-KERAS-001"
    }
    custom = _scan(tmp_path, "custom.keras", _keras_zip(_keras_config(CUSTOM)))
    assert any(
        f.rule_id == "WW-KERAS-002" and f.callable == "evil_pkg.layers.Backdoor"
        for f in custom.findings
    )


def test_legacy_h5_lambda(tmp_path):
    config = json.dumps(
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}
    )
    data = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100 + config.encode() + b"\x00" * 100
    assert _scan(tmp_path, "model.h5", data).verdict is Verdict.MALICIOUS
    clean = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100 + json.dumps({"class_name": "Sequential"}).encode()
    assert _scan(tmp_path, "ok.h5", clean).verdict is Verdict.CLEAN


def _onnx(location: str) -> bytes:
    loc = location.encode()
    entry = b"\x0a\x08location\x12" + bytes([len(loc)]) + loc
    return (
        b"\x08\x07\x12\x04onnx"
        + b"\x3a"
        + bytes([len(entry) + 2])
        + b"\x2a"
        + bytes([len(entry)])
        + entry
    )


def test_onnx_external_data(tmp_path):
    assert _scan(tmp_path, "ok.onnx", _onnx("weights.bin")).verdict is Verdict.CLEAN
    for bad in ("../../etc/passwd", "/etc/shadow", "C:\\\\Windows\\\\win.ini"):
        report = _scan(tmp_path, "bad.onnx", _onnx(bad))
        assert (
            report.verdict is Verdict.MALICIOUS and report.findings[0].rule_id == "WW-ONNX-001"
        ), bad


def test_polyglot_tail_after_weights(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    from weightwatch.testing.pickle_bytes import SYSTEM, torch_zip

    save_file({"w": np.ones(8, np.float32)}, tmp_path / "clean.safetensors")
    assert scan_paths([tmp_path / "clean.safetensors"]).files[0].verdict is Verdict.CLEAN
    poly = (tmp_path / "clean.safetensors").read_bytes() + torch_zip(SYSTEM)
    report = _scan(tmp_path, "poly.safetensors", poly)
    rules = {f.rule_id for f in report.findings}
    assert {"WW-FILE-003", "WW-PICKLE-001"} <= rules and report.verdict is Verdict.MALICIOUS


def test_a_short_pickle_after_the_last_safetensors_tensor_is_caught(tmp_path):
    """safetensors never pads: a pickle of under 64 bytes after its last tensor used to pass
    as GGUF-style alignment slack and scan clean (found while building remote scans)."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.ones(8, np.float32)}, tmp_path / "clean.safetensors")
    payload = b"cos\nsystem\n(S'echo pwned'\ntR."
    assert len(payload) <= 64
    data = (tmp_path / "clean.safetensors").read_bytes() + payload
    report = _scan(tmp_path, "tail.safetensors", data)
    assert report.verdict is Verdict.MALICIOUS
    assert "WW-FILE-003" in {f.rule_id for f in report.findings}


def test_nonzero_bytes_in_gguf_padding_are_reported(tmp_path):
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_tensor("a", np.ones(5, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = (tmp_path / "m.gguf").read_bytes() + b"cos\nsystem\n(S'id'\ntR."
    report = _scan(tmp_path, "tail.gguf", data)
    assert report.verdict is not Verdict.CLEAN
    assert "WW-FILE-003" in {f.rule_id for f in report.findings}


def test_gguf_padding_is_not_trailing_data(tmp_path):
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_tensor("a", np.ones(5, np.float32))
    w.add_tensor("b", np.ones(3, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert scan_paths([tmp_path / "m.gguf"]).files[0].findings == []


def test_seven_zip_and_zlib_streams(tmp_path):
    import zlib

    import py7zr

    from weightwatch.testing.pickle_bytes import SYSTEM

    with py7zr.SevenZipFile(tmp_path / "weights.7z", "w") as z:
        z.writestr(SYSTEM, "docs/notes.txt")  # a pickle under an innocent name
    report = scan_paths([tmp_path / "weights.7z"]).files[0]
    assert report.verdict is Verdict.MALICIOUS
    assert any(
        f.callable == "os.system" and "docs/notes.txt" in (f.location.member or "")
        for f in report.findings
    )
    assert _scan(tmp_path, "model.joblib", zlib.compress(SYSTEM)).verdict is Verdict.MALICIOUS
    assert _scan(tmp_path, "ok.joblib", zlib.compress(b"\x80\x02}q\x00.")).verdict is Verdict.CLEAN
