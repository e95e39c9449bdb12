"""The upload progress view lists the staged files while the registration takes them away:
a file that vanishes between the listing and its size is no longer staged, not an error
(the server's progress stream crashed on it: FileNotFoundError in ``staged_sizes``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from weightwatch.server.upload_stream import staged_sizes


def test_staged_files_taken_away_while_listed_are_left_out(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "sub").mkdir(parents=True)
    stop = threading.Event()

    def churn() -> None:  # what the registration does to the staging: files come and go
        while not stop.is_set():
            for i in range(20):
                (files / "sub" / f"w{i}.bin").write_bytes(b"x" * i)
            for i in range(20):
                (files / "sub" / f"w{i}.bin").unlink()

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            sizes = staged_sizes(files)
            assert all(k.startswith("sub/w") and 0 <= v <= int(k[5:-4]) for k, v in sizes.items())
    finally:
        stop.set()
        worker.join()
    assert staged_sizes(tmp_path / "gone") == {}
