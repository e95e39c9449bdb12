"""Differential fuzzing of the weight formats against their real readers: Hypothesis bends
safetensors headers, GGUF headers and zip containers (``format_mutants.py``); the real
reader (``safetensors`` in Rust, ``gguf.GGUFReader``, Python's ``zipfile`` and PyTorch's own
zip reader) runs in the sandboxed worker, and what it sees is compared with what our
parser sees.

Each disagreement must be one of: both read the file and see the same tensors, data and
metadata; the real reader reads it and we refuse it (a finding: the file is never clean);
we read what the real reader refuses, and the scanner reports why another reader could
differ (bytes no tensor covers, readers that disagree). Anything else fails the test.

``make test`` runs a bounded number of examples; ``make fuzz`` many more
(``WW_FUZZ_EXAMPLES``). Found disagreements and their fixes: docs/scanner.md.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from tests.scan.format_mutants import gguf_files, safetensors_files, zip_files
from tests.scan.real_loaders import RealLoaders
from weightwatch.artifacts.gguf import read_gguf
from weightwatch.artifacts.safetensors import read_header
from weightwatch.errors import ArtifactError, ScanError
from weightwatch.scan import scan_paths
from weightwatch.scan.zipcheck import STORAGE

pytest.importorskip("safetensors")
pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

EXAMPLES = int(os.environ.get("WW_FUZZ_EXAMPLES", "40"))
UNREADABLE, TRAILING, DIFFERENTIAL = "WW-FILE-001", "WW-FILE-003", "WW-ARCHIVE-001"
# we read a file the reference refuses: the scanner must say why another reader may differ
EXPLAINED = {UNREADABLE, TRAILING, DIFFERENTIAL}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def loaders():
    real = RealLoaders()
    yield real
    real.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _rules(path: Path) -> set[str]:
    try:
        report = scan_paths([path])
    except ScanError:  # nothing readable: refused, never clean
        return {UNREADABLE}
    return {f.rule_id for f in report.findings()}


def _ours_safetensors(path: Path) -> dict[str, Any] | None:
    try:
        hdr = read_header(path)
    except ArtifactError:
        return None
    raw = path.read_bytes()
    tensors = {
        info.name: [info.dtype, list(info.shape), _sha(raw[off : off + info.nbytes])]
        for info, off in hdr.tensors
    }
    return {"metadata": hdr.metadata, "tensors": tensors}


def _ours_gguf(path: Path) -> dict[str, Any] | None:
    try:
        g = read_gguf(path)
    except ArtifactError:
        return None
    tensors = {
        info.name: [tid, list(reversed(info.shape)), off, info.nbytes]
        for info, off, tid in g.tensors
    }
    return {"keys": sorted(g.metadata), "tensors": tensors, "meta": g.metadata}


def _theirs_gguf(view: dict[str, Any]) -> dict[str, Any]:
    return {"keys": sorted(view["fields"]), "tensors": view["tensors"]}


def _strings_agree(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Keys whose string value differs (a chat template one reader sees and not the other)."""
    bad = []
    for key, (_vtype, value) in theirs["fields"].items():
        if isinstance(value, str) and ours["meta"].get(key) != value:
            bad.append(key)
    return bad


def _check(what: str, data: bytes, ours: Any, seen: dict[str, Any], rules: set[str]) -> None:
    theirs = seen["view"]
    outcome = {(True, True): "both read", (True, False): "only the reference reads"}
    outcome |= {(False, True): "only we read", (False, False): "both refuse"}
    event(f"{what}: {outcome[theirs is not None, ours is not None]}")
    if theirs is not None and ours is not None:
        assert ours == theirs, f"{what}: readers see different contents; {data[:300]!r}"
    elif theirs is not None:
        assert UNREADABLE in rules, f"{what}: the reference reads it, we refuse it silently"
    elif ours is not None:
        assert rules & EXPLAINED, (
            f"{what}: we read a file the reference refuses ({seen['error']}) and report "
            f"nothing; {data[:300]!r}"
        )


@FUZZ
@given(safetensors_files())
def test_safetensors_matches_the_reference_reader(loaders, tmp_path, mutant):
    what, data = mutant
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    seen = loaders.run("view-safetensors", path)
    _check(what, data, _ours_safetensors(path), seen, _rules(path))


@FUZZ
@given(gguf_files())
def test_gguf_matches_the_reference_reader(loaders, tmp_path, mutant):
    what, data = mutant
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    seen = loaders.run("view-gguf", path)
    ours = _ours_gguf(path)
    rules = _rules(path)
    if seen["view"] is not None and ours is not None:
        assert _strings_agree(ours, seen["view"]) == [], f"{what}: metadata differs"
        ours = {k: v for k, v in ours.items() if k != "meta"}
        seen = {**seen, "view": _theirs_gguf(seen["view"])}
    _check(what, data, ours, seen, rules)


def _differ(python: dict[str, str], torch_view: dict[str, str]) -> bool:
    """The two readers see different members or bytes — except a raw tensor storage whose
    CRC Python checks and PyTorch does not: never unpickled, and checking it would mean
    reading every tensor byte (documented in docs/scanner.md)."""
    for name in set(python) | set(torch_view):
        mine, theirs = python.get(name), torch_view.get(name)
        crc_only = STORAGE.search(name) and "Bad CRC-32" in str(mine)
        if mine != theirs and not (crc_only and theirs is not None):
            return True
    return False


def _strip_archive(view: dict[str, str]) -> dict[str, str]:
    """PyTorch's reader names records relative to the archive's top folder."""
    return {name.split("/", 1)[1] if "/" in name else name: h for name, h in view.items()}


@FUZZ
@given(zip_files())
def test_zip_readers_agree_or_the_scanner_says_they_differ(loaders, tmp_path, mutant):
    what, data = mutant
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    python = loaders.run("view-zipfile", path)["view"]
    torch_view = loaders.run("view-torchzip", path)["view"]
    rules = _rules(path)
    event(f"{what}: zipfile {'reads' if python is not None else 'refuses'}, torch "
          f"{'reads' if torch_view is not None else 'refuses'}")  # fmt: skip
    if python is not None and torch_view is not None:
        if _differ(_strip_archive(python), torch_view):
            assert rules & {DIFFERENTIAL, UNREADABLE}, (
                f"{what}: zipfile sees {python}, torch sees {torch_view}; nothing reported"
            )
    elif torch_view is not None:  # torch loads what Python's zipfile cannot open
        assert rules & {DIFFERENTIAL, UNREADABLE}, f"{what}: only torch reads it; {data!r}"
