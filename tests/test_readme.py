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


def _demo(scratch: Path, *, registry: bool) -> None:
    """``var/demo`` (and with ``registry``, ``var/registry``) as ``make serve`` builds them."""
    from weightwatch.testing.demo import build_demo, seed_registry

    cache = os.environ.get("WEIGHTWATCH_FIXTURE_CACHE") or str(REPO / ".cache" / "fixtures")
    demo = scratch / "var" / "demo"
    demo.mkdir(parents=True)
    links = build_demo(demo, cache=Path(cache))
    if registry:
        seed_registry(scratch / "var" / "registry", demo, links)


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "src"),
        "COLUMNS": "80",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def test_readme_runs_as_written(tmp_path: Path) -> None:
    _demo(tmp_path, registry=True)
    failures = run_document(REPO / "README.md", tmp_path, _env())
    assert not failures, "README drifted:\n" + "\n".join(failures)


# The guides' examples start from the demo models alone (they build what they use).
DOCS = ["identity-and-signing.md", "lineage.md", "registry.md", "scanner.md", "cli.md"]


@pytest.mark.parametrize("name", DOCS)
def test_docs_examples_run_as_written(name: str, tmp_path: Path) -> None:
    _demo(tmp_path, registry=False)
    failures = run_document(REPO / "docs" / name, tmp_path, _env())
    assert not failures, f"docs/{name} drifted:\n" + "\n".join(failures)
