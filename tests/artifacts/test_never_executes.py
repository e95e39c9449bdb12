"""Reading artifacts never executes code: proven with an audit hook around open/iterate."""

from __future__ import annotations

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
        for t in art.iter_tensors():
            t.to_float32()
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
    return marker, files, benign


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
    assert len(refused) == 2 * len(malicious_pickles(marker))  # every torch-shaped one refused
    assert all("refused callable" in str(e) for e in refused)


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
