"""Issue #17 finding 6: hashing streams a file; memory does not grow with its size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import resource, sys
from pathlib import Path
from weightwatch.identity import compute_manifest
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
compute_manifest(Path(sys.argv[1]), algorithm="sha256", tensors=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)
"""


def test_hashing_a_large_file_keeps_memory_bounded(tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    with open(big, "wb") as f:
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(384):
            f.write(block)
    done = subprocess.run(
        [sys.executable, "-c", CODE, str(big)], capture_output=True, text=True, check=True
    )
    grown_mib = int(done.stdout.strip())
    # 384 MiB hashed; a mapping that kept its pages would grow by about that much.
    assert grown_mib < 96, f"peak RSS grew by {grown_mib} MiB while hashing 384 MiB"
