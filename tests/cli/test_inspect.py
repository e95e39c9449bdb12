"""`weightwatch inspect`: a readable table, versioned JSON, exit codes 0/2, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.artifacts.builders import malicious_pickles, torch_zip_with_pickle
from weightwatch.cli import main

WW = [sys.executable, "-m", "weightwatch"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WW, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    save_file(
        {"model.embed_tokens.weight": np.ones((16, 8), np.float32)}, tmp_path / "model.safetensors"
    )
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "architectures": ["LlamaForCausalLM"],
                "hidden_size": 8,
                "num_hidden_layers": 1,
                "vocab_size": 16,
            }
        )
    )
    (tmp_path / "README.md").write_text(
        "---\nlicense: mit\nbase_model: org/base\nbase_model_relation: finetune\n---\n# x\n"
    )
    return tmp_path


def test_table(model_dir):
    r = _run("inspect", str(model_dir))
    assert r.returncode == 0, r.stderr
    for text in (
        "llama",
        "LlamaForCausalLM",
        "128",
        "mit",
        "org/base (finetune)",
        "model.safetensors",
        "safetensors",
    ):
        assert text in r.stdout


def test_json(model_dir, capsys):
    assert main(["inspect", str(model_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == "1"
    assert doc["parameter_count"] == 128 and doc["tensor_count"] == 1
    assert doc["family"] == "llama" and doc["card"]["license"] == "mit"
    assert {f["path"]: f["format"] for f in doc["files"]}["README.md"] == "text"


@pytest.mark.parametrize("kind", ["missing", "corrupt", "malicious"])
def test_errors_are_one_line_exit_2(tmp_path, kind):
    if kind == "missing":
        target = tmp_path / "nope"
    elif kind == "corrupt":
        target = tmp_path / "model.safetensors"
        target.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": {"dtype": 1}}')
    else:
        target = tmp_path / "pytorch_model.bin"
        target.write_bytes(torch_zip_with_pickle(malicious_pickles(tmp_path / "m")["posix.system"]))
    r = _run("inspect", str(target))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and target.name in lines[0], r.stderr
    if kind == "malicious":
        assert "refused callable posix.system" in lines[0]


def test_usage_error_exit_2():
    r = _run("inspect")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert _run("--version").stdout.startswith("weightwatch ")
