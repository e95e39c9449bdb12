"""Peak memory and time to iterate every tensor of a multi-GB safetensors file.

Each reader runs in its own process (so its peak RSS is its own) and touches every byte
of every tensor (a checksum), as a fingerprint or digest pass would. Compared on the same
file in the same run: weightwatch's lazy per-tensor mmap, ``safetensors.safe_open``
(numpy, one tensor at a time) and ``safetensors.numpy.load_file`` (everything at once).
Size: ``WW_BENCH_GB`` (default 4).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GB = float(os.environ.get("WW_BENCH_GB", "4"))
ROWS = COLS = 4096  # 64 MiB float32 tensors

READERS = {
    "weightwatch open_artifact (per-tensor mmap)": """
from weightwatch.artifacts import open_artifact
s = 0.0
for t in open_artifact(PATH).iter_tensors():
    s += float(t.data().sum(dtype='float64'))
""",
    "safetensors.safe_open(framework='numpy')": """
from safetensors import safe_open
s = 0.0
with safe_open(PATH, framework='numpy') as f:
    for k in f.keys():
        s += float(f.get_tensor(k).sum(dtype='float64'))
""",
    "safetensors.numpy.load_file": """
from safetensors.numpy import load_file
s = 0.0
for v in load_file(PATH).values():
    s += float(v.sum(dtype='float64'))
""",
}


def write_file(path: Path, n_tensors: int) -> None:
    nbytes = ROWS * COLS * 4
    header = {
        f"layer.{i}.weight": {
            "dtype": "F32",
            "shape": [ROWS, COLS],
            "data_offsets": [i * nbytes, (i + 1) * nbytes],
        }
        for i in range(n_tensors)
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    block = (np.arange(ROWS * COLS, dtype=np.float32) % 1000.0) / 1000.0
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for i in range(n_tensors):
            f.write((block + i).tobytes())


# VmHWM is the peak RSS of the process's own address space; unlike ru_maxrss it is not
# inherited from the parent across fork+exec.
PEAK = """
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]
print(time.perf_counter() - t0, s, int(hwm) / 1024)
"""


def measure(code: str, path: Path) -> tuple[float, float, float]:
    prog = f"PATH = {str(path)!r}\nimport time\nt0 = time.perf_counter()\n{code}\n{PEAK}"
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True)
    secs, checksum, peak_mb = proc.stdout.split()
    return float(secs), float(peak_mb), float(checksum)


def main() -> None:
    n = max(1, int(GB * 2**30 // (ROWS * COLS * 4)))
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        path = Path(tmp) / "big.safetensors"
        t0 = time.perf_counter()
        write_file(path, n)
        size_gb = path.stat().st_size / 2**30
        write_s = time.perf_counter() - t0
        rows = []
        checksums = set()
        for name, code in READERS.items():
            secs, peak_mb, checksum = measure(code, path)
            checksums.add(round(checksum, 3))
            rows.append((name, secs, peak_mb))
    print("### Artifacts: iterating a multi-GB safetensors file (peak RSS)\n")
    print(
        f"One file of {size_gb:.2f} GiB ({n} float32 tensors of {ROWS}x{COLS}), written in "
        f"{write_s:.1f} s; each reader in its own process reads every byte of every tensor. "
        "Peak RSS is the reading process's own high-water mark (`VmHWM`), interpreter and "
        "imports included (about 30 MiB for Python with NumPy).\n"
    )
    print("| reader | time (s) | GB/s | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for name, secs, peak in rows:
        print(f"| {name} | {secs:.2f} | {size_gb * 1.0737 / secs:.2f} | {peak:.0f} |")
    agree = "yes" if len(checksums) == 1 else f"NO: {sorted(checksums)}"
    print(f"\nAll readers computed the same checksum: {agree}.")


if __name__ == "__main__":
    main()
