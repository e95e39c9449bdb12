"""Issue #17 finding 6: output fits 80 columns without breaking identifiers, without
trailing spaces, and counts in words ("1 file", not "1 files")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from weightwatch.cli import main

pytestmark = pytest.mark.slow


def _clean(text: str) -> None:
    for line in text.splitlines():
        # hash's sha256sum-format lines (64 hex, two spaces, a path) are never wrapped
        digest_line = re.match(r"[0-9a-f]{64}  \S", line) is not None
        assert len(line) <= 80 or digest_line, f"over 80 columns: {line!r}"
        assert line == line.rstrip(), f"trailing spaces: {line!r}"


def test_reports_fit_80_columns(llama_family, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    base = str(llama_family.base)
    for args in (["inspect", base], ["scan", base], ["fingerprint", base]):
        main(args)
        _clean(capsys.readouterr().out)


def test_hash_never_wraps_a_digest(llama_family, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    base = str(llama_family.base)
    assert main(["hash", base, "--json"]) == 0
    digests = [f["digest"] for f in json.loads(capsys.readouterr().out)["files"]]
    assert main(["hash", base]) == 0
    out = capsys.readouterr().out
    _clean(out)
    for d in digests:
        assert d in out, f"{d} is not shown whole"


def test_counts_are_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text("{}")
    main(["scan", str(tmp_path / "config.json")])
    out = capsys.readouterr().out
    assert "1 file:" in out and "1 files" not in out
