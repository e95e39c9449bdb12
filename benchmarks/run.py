"""Run every benchmark and write docs/benchmarks.md.

Each ``benchmarks/<area>/bench_*.py`` is run as its own process (so peak-memory figures
are its own) and prints a Markdown section on stdout. Each area's sections are kept
between markers in the output file, stamped with the machine and the date they were
measured on, so re-running one area leaves the others' figures in place.

Usage: ``python benchmarks/run.py [AREA ...]`` (default: all areas).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


BEGIN = "<!-- begin area: {} -->"
END = "<!-- end area: {} -->"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure below was measured by `make bench` (or `python benchmarks/run.py AREA`)"
    " on the machine named in its section. Figures vary by about ±30% between runs on this"
    " class of machine: compare the ratios taken in the same run, not absolute numbers"
    " across runs.\n"
)


def run_area(area: str) -> tuple[str, int]:
    parts = [f"_Measured {dt.date.today().isoformat()} on {machine()}._\n"]
    failed = 0
    for script in sorted((ROOT / "benchmarks" / area).glob("bench_*.py")):
        print(f"== {script.relative_to(ROOT)}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT
        )
        if proc.returncode != 0:
            failed += 1
            parts.append(
                f"### {script.relative_to(ROOT)}\n\nFAILED (exit {proc.returncode}):\n\n"
                f"```\n{proc.stderr[-3000:]}\n```\n"
            )
        else:
            parts.append(proc.stdout.strip() + "\n")
        print(parts[-1], file=sys.stderr)
    return "\n".join(parts), failed


def main(argv: list[str]) -> int:
    bench_dir = ROOT / "benchmarks"
    all_areas = sorted(p.name for p in bench_dir.iterdir() if list(p.glob("bench_*.py")))
    areas = argv or all_areas
    old = OUT.read_text() if OUT.exists() else ""
    kept: dict[str, str] = {}
    for area in all_areas:
        b, e = BEGIN.format(area), END.format(area)
        if b in old and e in old:
            kept[area] = old[old.index(b) + len(b) : old.index(e)].strip("\n")
    failed = 0
    for area in areas:
        kept[area], n = run_area(area)
        failed += n
    body = [HEADER]
    for area in sorted(kept):
        body.append(f"\n{BEGIN.format(area)}\n{kept[area]}\n{END.format(area)}\n")
    OUT.write_text("".join(body))
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
