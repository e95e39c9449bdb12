"""Issue #17 finding 6: long steps show progress on a terminal, and nothing otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, tty: bool) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "80", "TERM": "xterm"}
    cmd = [sys.executable, "-m", "weightwatch", *args]
    if not tty:
        done = subprocess.run(cmd, capture_output=True, env=env, check=False)
        return done.returncode, done.stderr.decode()
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)


def test_hash_shows_progress_only_on_a_terminal(tmp_path: Path) -> None:
    model = tmp_path / "model.safetensors"
    save_file({"w": np.zeros((256, 256), dtype=np.float32)}, str(model))
    rc, err = _run(["hash", str(model)], tty=True)
    assert rc == 0 and "hashing" in err, err
    rc, err = _run(["hash", str(model)], tty=False)
    assert rc == 0 and err == ""
    rc, err = _run(["hash", str(model), "--json"], tty=True)
    assert rc == 0 and "hashing" not in err
