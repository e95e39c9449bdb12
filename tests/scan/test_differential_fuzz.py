"""Differential fuzzing against the real loaders: Hypothesis mutates benign and malicious
files (torch zip and legacy, joblib, pickles, NumPy .npy/.npz with object arrays: bytes,
pickle tails, opcodes spliced in, zip headers and names), the real loader
runs each mutant in the sandboxed worker (``sandbox_loader.py``), and every global it
resolves that is not plain data must be one the scanner reports; a loader that reached
a process call must meet a high or critical finding.

``make test`` runs a bounded number of examples; ``make fuzz`` runs many more
(``WW_FUZZ_EXAMPLES``). Found disagreements and their fixes: docs/scanner.md.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scan.real_loaders import RealLoaders
from weightwatch.errors import ScanError
from weightwatch.scan import Severity, scan_paths
from weightwatch.scan.callables import Outcome, canonical, classify
from weightwatch.testing.pickle_bytes import SYSTEM, legacy_torch, torch_zip
from weightwatch.testing.scan_corpus_paths import joblib_stream

torch = pytest.importorskip("torch")
joblib = pytest.importorskip("joblib")

EXAMPLES = int(os.environ.get("WW_FUZZ_EXAMPLES", "40"))
# Fragments a mutation may splice in: imports of a dangerous and an unlisted callable,
# call/build/stop opcodes, a nested-pickle start — what parser differentials are made of.
SNIPPETS = [
    b"cposix\nsystem\n",
    b"\x8c\x02os\x8c\x06system\x93",
    b"\x8c\x08builtins\x8c\x04eval\x93",
    b"cwebbrowser\nopen\n",
    b"\x8c\x04true\x85R",
    b"R",
    b"b",
    b".",
    b"\x80\x04",
    b"0",
    b"(",
    b"t",
]


def _seeds() -> dict[str, tuple[str, bytes]]:
    """name -> (loader kind, bytes)."""
    buf = io.BytesIO()
    torch.save(OrderedDict(w=torch.arange(6.0).reshape(2, 3), b=torch.zeros(2)), buf)
    state_zip = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf, _use_new_zipfile_serialization=False)
    state_legacy = buf.getvalue()
    jbuf = io.BytesIO()
    joblib.dump({"a": np.arange(8.0), "b": [1, 2]}, jbuf)
    nbuf = io.BytesIO()
    np.save(nbuf, np.array([OrderedDict(a=1), "x", None], dtype=object), allow_pickle=True)
    zbuf = io.BytesIO()
    np.savez(zbuf, o=np.array([1, "x"], dtype=object), w=np.ones(3))
    return {
        "npy-objects": ("numpy", nbuf.getvalue()),
        "npz-objects": ("numpy", zbuf.getvalue()),
        "torch-zip": ("torch", state_zip),
        "torch-legacy": ("torch", state_legacy),
        "torch-zip-evil": ("torch", torch_zip(SYSTEM)),
        "torch-legacy-evil": ("torch", legacy_torch(SYSTEM)),
        "joblib": ("joblib", jbuf.getvalue()),
        "joblib-evil": ("joblib", joblib_stream(SYSTEM[2:-1] + b"0")),
        "pickle-p2": ("pickle", pickle.dumps({"lr": 0.1, "od": OrderedDict(a=1)}, protocol=2)),
        "pickle-p0": ("pickle", pickle.dumps([1, "x", OrderedDict()], protocol=0)),
        "numpy-p4": ("pickle", pickle.dumps({"w": np.ones((2, 2))}, protocol=4)),
        "pickle-evil": ("pickle", SYSTEM),
    }


SEEDS = _seeds()


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    kind, data = SEEDS[name]
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "dup", "zipname"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(SNIPPETS) | st.binary(min_size=1, max_size=6))
        elif op == "truncate":
            del data[at:]
        elif op == "dup" and data:
            end = min(len(data), at + draw(st.integers(1, 64)))
            data[end:end] = data[at:end]
        elif op == "zipname":
            data = bytearray(_zip_rename(bytes(data), draw(st.integers(0, 3))))
    return name, kind, bytes(data)


def _zip_rename(data: bytes, which: int) -> bytes:
    """Give a member a different name in its local header than in the central directory,
    or add a second member of the same name at the end (readers choose differently)."""
    if not data.startswith(b"PK"):
        return data
    if which == 0:
        i = data.find(b"data.pkl")
        return data[:i] + b"data.pkx" + data[i + 8 :] if i >= 0 else data
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            pkl = next((n for n in src.namelist() if n.endswith("data.pkl")), None)
            if pkl is not None:
                dst.writestr(pkl, SYSTEM if which == 1 else b"\x80\x02}q\x00.")
        return out.getvalue()
    except Exception:  # a mutated zip we cannot rebuild: keep it as it is
        return data


@pytest.fixture(scope="module")
def loaders():
    real = RealLoaders()
    yield real
    real.close()


def _scanner_view(path: Path) -> tuple[set[str], bool, bool]:
    """(callables the scanner reports, flagged high/critical, refused to read)."""
    try:
        report = scan_paths([path])
    except ScanError:
        return set(), False, True
    findings = report.findings()
    return (
        {f.callable for f in findings if f.callable},
        any(f.severity >= Severity.HIGH for f in findings),
        bool(report.files[0].error),
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutants())
def test_scanner_sees_every_global_the_real_loader_resolves(loaders, tmp_path, mutant):
    name, kind, data = mutant
    path = tmp_path / "mutant.bin"
    path.write_bytes(data)
    seen = loaders.run(kind, path)
    reported, flagged, refused = _scanner_view(path)
    missed = []
    for module, qual in seen["globals"]:
        full = canonical(module, qual)
        if classify(full)[0] is not Outcome.SAFE and full not in reported and not refused:
            missed.append(full)
    assert missed == [], f"{name} via {kind}: the loader resolved {missed}; {seen}; {data!r}"
    if any(a.startswith(("os.", "subprocess")) for a in seen["attempts"]):
        assert flagged or refused, f"{name} via {kind}: payload ran in the loader, not flagged"
