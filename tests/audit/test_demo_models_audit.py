"""The demo's models can be audited with the default suite (issue #17, finding 3): their
context leaves room for every default prompt, so `audit run` answers instead of failing
on a prompt that does not fit."""

from __future__ import annotations

import json

import pytest

from weightwatch.cli import main

pytestmark = pytest.mark.slow


def test_default_suite_runs_on_a_demo_model(llama_family, tmp_path, capsys):  # type: ignore[no-untyped-def]
    config = json.loads((llama_family.base / "config.json").read_text())
    assert config["max_position_embeddings"] >= 2048  # RoPE: no weights depend on it
    args = ["audit", "run", "--model-dir", str(llama_family.base), "--limit", "4"]
    code = main([*args, "--over-refusal", "none", "--json", "--no-cache"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    assert len(report["items"]) == 4  # every request was answered (and judged)
    # a tiny demo model babbles: the judge may find no clear verdict, which is said
    assert report["attacks"] or any("no clear judgement" in n for n in report["notes"])
