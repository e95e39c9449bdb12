"""Issue #17 finding 3: errors name the file and the problem, with the table's exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightwatch.cli import main


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err
    return err


def test_keygen_into_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "x.key"
    assert main(["keygen", str(target)]) == 2
    assert f"{target}: No such file or directory" in _err(capsys)


def test_log_verify_with_a_missing_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["log", "verify", "--entry", str(tmp_path / "nosuch"), "--proof"]
    (tmp_path / "p.json").write_text('{"index": 0, "hashes": []}')
    rc = main([*args, str(tmp_path / "p.json"), "--checkpoint", "c", "--pub", "k"])
    assert rc == 2
    assert "nosuch: No such file or directory" in _err(capsys)


def test_fingerprint_of_a_non_weight_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_text("garbage\n")
    assert main(["fingerprint", str(bad)]) == 2
    assert f"error: {bad}: " in _err(capsys)  # the file itself, not its folder


@pytest.mark.slow
def test_lineage_against_an_empty_index_names_a_real_option(
    tmp_path: Path, llama_family, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "idx").mkdir()
    assert main(["lineage", str(llama_family.base), "--index", str(tmp_path / "idx")]) == 2
    err = _err(capsys)
    assert "not a fingerprint index" in err and "--add-to" in err


@pytest.mark.slow
def test_fingerprint_output_into_a_missing_folder_and_file_vs_folder(
    tmp_path: Path, llama_family, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "x.wwfp"
    assert main(["fingerprint", str(llama_family.base), "-o", str(out)]) == 2
    err = _err(capsys)
    assert f"{out}: No such file or directory" in err and ".tmp" not in err
    fp = tmp_path / "base.wwfp"
    assert main(["fingerprint", str(llama_family.base), "-o", str(fp)]) == 0
    capsys.readouterr()
    base = str(llama_family.base)
    assert main(["lineage", str(fp), "--against", base, "--json"]) == 1
    from_file = capsys.readouterr().out
    assert main(["lineage", base, "--against", base, "--json"]) == 1
    from_folder = capsys.readouterr().out
    assert '"relation": "identical"' in from_file and '"relation": "identical"' in from_folder


@pytest.mark.slow
def test_serve_on_a_taken_port_is_an_environment_error(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    ww = [sys.executable, "-m", "weightwatch"]
    reg = str(tmp_path / "reg")
    subprocess.run([*ww, "registry", "init", "--registry", reg], env=env, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        done = subprocess.run(
            [*ww, "serve", "--registry", reg, "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 3, done.stderr[-500:]
    assert "address already in use" in done.stderr
