"""The reader and the scanner judge pickles from one table: whatever the reader loads, the
scanner must call safe, or ``weightwatch scan`` calls a checkpoint we read malicious."""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from weightwatch.artifacts import open_artifact
from weightwatch.artifacts.pickle_callables import PICKLE_CALLABLES
from weightwatch.artifacts.torchrefs import ALLOWED
from weightwatch.scan import Verdict, scan_paths
from weightwatch.scan.callables import SAFE, Outcome, canonical, classify

UINTS = {
    "u16": (torch.uint16, "U16", [0, 1, 65535]),
    "u32": (torch.uint32, "U32", [0, 7, 2**32 - 1]),
    "u64": (torch.uint64, "U64", [0, 9, 2**63 + 5]),
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_global_the_reader_loads_is_safe_for_the_scanner(name):
    module, _, qual = name.rpartition(".")
    assert classify(canonical(module, qual)) == (Outcome.SAFE, None)


def test_scanner_safe_set_is_the_table_and_no_denylist_entry_overrides_it():
    assert {canonical(*c.name.rsplit(".", 1)) for c in PICKLE_CALLABLES} == SAFE
    assert all(classify(name) == (Outcome.SAFE, None) for name in SAFE)


def _globals(path: Path, *, legacy: bool) -> set[str]:
    """Every GLOBAL the checkpoint's pickles name: proves what the regression covers."""
    if legacy:
        data, streams = path.read_bytes(), []
        pos = 0
        for _ in range(4):  # magic, protocol, sys info, the object; then raw storages
            ops = list(pickletools.genops(io.BytesIO(data[pos:])))
            streams.append(ops)
            pos += int(ops[-1][2] or 0) + 1
    else:
        with zipfile.ZipFile(path) as zf:
            pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
            streams = [list(pickletools.genops(zf.read(pkl)))]
    return {
        str(arg).replace(" ", ".") for ops in streams for op, arg, _ in ops if op.name == "GLOBAL"
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_unsigned_checkpoint_is_clean_and_readable(tmp_path, legacy):
    """Regression: torch.uint16/32/64 and torch.storage.UntypedStorage were loadable by the
    reader but blocked (high) by the scanner, so a benign checkpoint was called malicious."""
    obj = {key: torch.tensor(values, dtype=dt) for key, (dt, _, values) in UINTS.items()}
    obj["f32"] = torch.ones(2, 2)
    path = tmp_path / f"uints-{legacy}.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    named = _globals(path, legacy=legacy)
    assert {"torch.uint16", "torch.uint32", "torch.uint64"} <= named
    assert "torch.storage.UntypedStorage" in named

    report = scan_paths([path])
    assert [f.explanation for f in report.findings()] == []
    assert report.verdict is Verdict.CLEAN

    got = {t.name: t for t in open_artifact(path).iter_tensors()}
    assert set(got) == {*UINTS, "f32"}
    for key, (_, code, values) in UINTS.items():
        assert got[key].dtype == code
        assert got[key].data().tolist() == values
    assert np.array_equal(got["f32"].data(), np.ones((2, 2), np.float32))
