"""Start-up time of ``weightwatch --help`` / ``--version`` beside the CLI framework alone
(``python -c "import typer, rich"``) and the Hugging Face CLI (``hf --help``).

Each command runs 10 times in a fresh process, in turn, after one warm-up; the median
wall time is reported. Prints a Markdown section (benchmarks/run.py collects it).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 10
BIN = Path(sys.executable).parent


def _cmds() -> dict[str, list[str]]:
    ww = shutil.which("weightwatch", path=str(BIN)) or "weightwatch"
    cmds = {
        'python -c "import typer, rich"': [sys.executable, "-c", "import typer, rich"],
        "weightwatch --help": [ww, "--help"],
        "weightwatch --version": [ww, "--version"],
    }
    hf = shutil.which("hf", path=str(BIN))
    if hf:
        cmds["hf --help"] = [hf, "--help"]
    return cmds


def main() -> None:
    cmds = _cmds()
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for argv in cmds.values():  # warm-up: page cache, .pyc files
        subprocess.run(argv, capture_output=True, check=False)
    for _ in range(RUNS):
        for name, argv in cmds.items():
            t0 = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, check=False)
            times[name].append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.decode()[-500:]}")
    base = statistics.median(times['python -c "import typer, rich"'])
    print("## CLI start-up\n")
    print(
        f"Median of {RUNS} fresh processes each, interleaved, after one warm-up. "
        "The target (issue #17): `weightwatch --help` and `--version` within 2x of "
        "importing the CLI framework alone.\n"
    )
    print("| command | median (ms) | x framework |")
    print("|---|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| `{name}` | {med * 1000:.0f} | {med / base:.2f} |")
    print()


if __name__ == "__main__":
    main()
