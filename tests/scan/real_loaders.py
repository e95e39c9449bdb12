"""A persistent sandboxed worker running the real loaders (``sandbox_loader.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("sandbox_loader.py")


class RealLoaders:
    """Send a file to torch.load / pickle.load / joblib.load / numpy.load / read_pickle
    in the worker; a worker that dies (a mutant crashed the loader) is restarted."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ww-sandbox-")
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin"),
            "HOME": self._dir.name,
            "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "*",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
        }
        return subprocess.Popen(
            [sys.executable, "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=self._dir.name,
            env=env,
        )

    def run(self, kind: str, path: Path) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps({"kind": kind, "path": str(path)}) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:  # the loader crashed the worker: no view to compare
            self._proc = None
            return {"globals": [], "attempts": [], "error": "worker died"}
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._dir.cleanup()
