"""A CLI audit run in a child process and SIGKILLed once its response cache holds enough
rows: the one way the resume tests interrupt an audit mid-flight."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def cached_rows(path: Path) -> int:
    """Rows in the response cache at ``path`` (0 before it exists or has its table)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=1)
    try:
        return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def kill_audit_after(args: list[str], cache: Path, rows: int, *, timeout: float) -> None:
    """Run ``weightwatch ARGS`` and SIGKILL it once ``cache`` holds ``rows`` rows."""
    code = f"import sys; from weightwatch.cli import main; sys.exit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while cached_rows(cache) < rows:
            assert proc.poll() is None, "the audit ended before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
