"""Scanning cost must not grow with tensor bytes: multi-GB checkpoints, weightwatch vs picklescan.

A PyTorch zip checkpoint, a legacy PyTorch checkpoint and a safetensors file of
``WW_BENCH_GB`` GB each (default 2) are scanned right after being written (warm cache),
next to a tiny file of the same format. Both tools read the pickles only; weightwatch
also validates the safetensors header and offsets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from weightwatch.scan import scan_paths

HERE = Path(__file__).resolve().parent
GB = float(os.environ.get("WW_BENCH_GB", "2"))

PICKLESCAN = """
import sys, time
from picklescan.scanner import scan_file_path
t = time.perf_counter(); r = scan_file_path(sys.argv[1]); print(time.perf_counter() - t, r.scan_err)
"""


def tensors(total_bytes: float) -> dict[str, torch.Tensor]:
    n = max(1, int(total_bytes // (64 * 2**20)))
    return {f"layer.{i}.weight": torch.full((4096, 4096), float(i)) for i in range(n)}


def main() -> None:
    py = HERE / ".venv" / "bin" / "python"
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        root = Path(tmp)
        for label, size in (("tiny", 1e6), (f"{GB:g} GB", GB * 1e9)):
            sd = tensors(size) if size > 1e7 else {"w": torch.ones(16)}
            files = {
                "torch zip": root / f"zip-{label}.pt",
                "torch legacy": root / f"legacy-{label}.pt",
                "safetensors": root / f"st-{label}.safetensors",
            }
            torch.save(sd, files["torch zip"])
            torch.save(sd, files["torch legacy"], _use_new_zipfile_serialization=False)
            save_file(sd, files["safetensors"])
            del sd
            for fmt, path in files.items():
                t0 = time.perf_counter()
                report = scan_paths([path])
                ww = time.perf_counter() - t0
                assert report.verdict.value == "clean", report
                ps = None
                if py.exists():
                    out = subprocess.run(
                        [str(py), "-c", PICKLESCAN, str(path)], capture_output=True, text=True
                    )
                    ps = (
                        float(out.stdout.split()[0]) if out.returncode == 0 and out.stdout else None
                    )
                rows.append((fmt, label, path.stat().st_size / 1e9, ww, ps))
    print("### Scanner: cost against tensor bytes\n")
    print(
        "Each file scanned right after being written (warm cache). weightwatch reads only the "
        "pickles (and the safetensors header); its time should not grow with the data.\n"
    )
    print("| format | size | GB | weightwatch (s) | picklescan (s) |")
    print("|---|---|---:|---:|---:|")
    for fmt, label, gb, ww, ps in rows:
        print(f"| {fmt} | {label} | {gb:.3f} | {ww:.3f} | {'n/a' if ps is None else f'{ps:.3f}'} |")


if __name__ == "__main__":
    sys.exit(main())
