"""Reading artifacts never executes code: proven with an audit hook around open/iterate."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from tests.artifacts.builders import (
    legacy_torch_with_pickle,
    malicious_pickles,
    torch_zip_with_pickle,
)
from weightwatch.artifacts import open_artifact
from weightwatch.errors import ArtifactError

DANGEROUS_EVENTS = (
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "exec",
    "compile",
    "ctypes.dlopen",
    "socket.connect",
)


class _Recorder:
    """Audit hooks cannot be removed, so one hook per process records while switched on."""

    def __init__(self) -> None:
        self.on = False
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: str, args: tuple) -> None:
        if not self.on:
            return
        if event.startswith(DANGEROUS_EVENTS):
            self.events.append((event, repr(args)[:400]))
        elif event == "import":
            self.events.append((event, str(args[0])))


RECORDER = _Recorder()
sys.addaudithook(RECORDER)


def _read_all(path):
    try:
        art = open_artifact(path)
        for f in art.weight_files:  # every file, not only the primary set
            for t in art.iter_tensors(file=f):
                t.to_float32()
        _ = art.totals
        return None
    except ArtifactError as exc:
        return exc


@pytest.fixture
def corpus(tmp_path):
    marker = tmp_path / "pwned"
    files = []
    for i, data in enumerate(malicious_pickles(marker).values()):
        for kind, payload in (
            ("zip", torch_zip_with_pickle(data)),
            ("legacy", legacy_torch_with_pickle(data)),
        ):
            p = tmp_path / f"m{i}-{kind}.bin"
            p.write_bytes(payload)
            files.append(p)
        raw = tmp_path / f"m{i}.pkl"  # a bare pickle, named like a checkpoint
        raw.write_bytes(data)
        files.append(raw)
    benign = tmp_path / "benign"
    benign.mkdir()
    save_file({"w": np.ones(4, np.float32)}, benign / "model.safetensors")
    torch.save({"w": torch.ones(4)}, benign / "pytorch_model.bin")
    torch.save({"w": torch.ones(4)}, benign / "legacy.bin", _use_new_zipfile_serialization=False)
    np.save(benign / "a.npy", np.ones(3))
    np.savez_compressed(benign / "z.npz", x=np.ones(3))
    torch.save({"u": torch.ones(3, dtype=torch.uint16)}, benign / "v3.bin")  # _rebuild_tensor_v3
    _gguf(benign / "m.gguf")
    # more hostile inputs: an object array (needs pickle), a deep tuple used as a dict key
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([os.getcwd], dtype=object), allow_pickle=True)
    deep = tmp_path / "deep.bin"
    deep.write_bytes(torch_zip_with_pickle(b"\x80\x02}" + b")" + b"\x85" * 300_000 + b"Ns."))
    return marker, [*files, obj, deep], benign


def _gguf(path):
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("w", np.ones((2, 32), np.float32))
    q8 = gguf.GGMLQuantizationType.Q8_0
    w.add_tensor("q", gguf.quants.quantize(np.ones((2, 32), np.float32), q8), raw_dtype=q8)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_reading_malicious_files_runs_nothing(corpus):
    marker, files, benign = corpus
    # Warm up: import every module the readers use lazily, including the error paths.
    for p in [benign, *files[:3]]:
        _read_all(p)
    RECORDER.events.clear()
    RECORDER.on = True
    try:
        errors = [_read_all(p) for p in files]
        _read_all(benign)
    finally:
        RECORDER.on = False
    assert RECORDER.events == [], RECORDER.events
    assert not marker.exists()
    refused = [e for e in errors if e is not None]
    n_malicious = 2 * len(malicious_pickles(marker))  # every torch-shaped one refused
    assert len(refused) == n_malicious + 2
    assert sum("refused callable" in str(e) for e in refused) == n_malicious
    assert "object arrays" in str(errors[-2]) and "dict key" in str(errors[-1])


def test_recorder_sees_what_it_should():
    """The hook itself works: a real (harmless) compile/import is seen."""
    RECORDER.events.clear()
    RECORDER.on = True
    try:
        compile("1 + 1", "<test>", "eval")
        import colorsys  # noqa: F401  (a stdlib module the suite never imports otherwise)
    finally:
        RECORDER.on = False
    kinds = {e for e, _ in RECORDER.events}
    assert "compile" in kinds
