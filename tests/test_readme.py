"""The README runs as written: each ``console`` block's commands are run in a scratch
directory holding the demo (``make serve``'s ``var/demo`` and ``var/registry``) and their
output is checked against the README's (tests/doctest_md.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.doctest_md import blocks, mismatch, normalise, run_document

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_the_matcher_catches_drift() -> None:
    assert normalise("key id:      a0bf00312d6a6c60d3f2") == "key id: <hex>"
    assert mismatch(["verified: x"], ["verified: x"]) is None
    assert mismatch(["verified: x"], ["FAILED: x"]) is not None
    assert mismatch(["a", "...", "c"], ["a", "b", "c"]) is None
    assert mismatch(["a", "c"], ["a", "b", "c"]) is not None  # no elision: exact
    assert mismatch(["score 0.8325, p = 1.16e-32"], ["score 0.9, p = 3e-5"]) is None
    parsed = blocks("```console\n$ echo a \\\n  b\na b\n```\n")
    assert parsed[0].commands[0].text == "echo a b" and parsed[0].commands[0].expected == ["a b"]


def test_readme_runs_as_written(tmp_path: Path) -> None:
    from weightwatch.testing.demo import build_demo, seed_registry

    cache = os.environ.get("WEIGHTWATCH_FIXTURE_CACHE") or str(REPO / ".cache" / "fixtures")
    demo = tmp_path / "var" / "demo"
    demo.mkdir(parents=True)
    links = build_demo(demo, cache=Path(cache))
    seed_registry(tmp_path / "var" / "registry", demo, links)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "src"),
        "COLUMNS": "80",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    failures = run_document(REPO / "README.md", tmp_path, env)
    assert not failures, "README drifted:\n" + "\n".join(failures)
