"""Runs one third-party scanner over a list of files; executed inside the scanners' own venv.

Usage: runner.py TOOL FILE_LIST_JSON  ->  prints JSON {path: {"flagged": bool, "error": str}}
"""

from __future__ import annotations

import json
import sys
import time


def picklescan(path: str) -> tuple[bool, str | None]:
    from picklescan.scanner import scan_file_path

    r = scan_file_path(path)
    return r.infected_files > 0 or r.issues_count > 0, ("scan error" if r.scan_err else None)


def fickling(path: str) -> tuple[bool, str | None]:
    """Fickling's own scale; "dangerous" = LIKELY_UNSAFE or worse. Zips go through its
    zip scanner (its file scanner finds no pickle in a torch zip)."""
    import zipfile

    import fickling as fk
    from fickling.analysis import Severity

    if zipfile.is_zipfile(path):
        results = list(fk.scan_zip_archive(path, graceful=True).values())
    else:
        results = [fk.scan_file(path, graceful=True)]
    errors = [e for r in results for e in r.errors if "EmptyPickleError" not in e]
    worst = max((r.severity for r in results if r.results), default=Severity.LIKELY_SAFE)
    return worst >= Severity.LIKELY_UNSAFE, ("; ".join(errors)[:200] if errors else None)


def modelscan(path: str) -> tuple[bool, str | None]:
    from modelscan.modelscan import ModelScan

    r = ModelScan().scan(path)
    issues = r.get("issues", [])
    errors = r.get("errors", [])
    return bool(issues), (str(errors)[:200] if errors else None)


TOOLS = {"picklescan": picklescan, "fickling": fickling, "modelscan": modelscan}

if __name__ == "__main__":
    tool, listing = sys.argv[1], sys.argv[2]
    with open(listing) as f:
        paths = json.load(f)
    out = {}
    t0 = time.perf_counter()
    for p in paths:
        try:
            flagged, err = TOOLS[tool](p)
        except Exception as exc:  # a crash is an error, not a detection
            flagged, err = False, f"{type(exc).__name__}: {exc}"[:200]
        out[p] = {"flagged": bool(flagged), "error": err}
    print(json.dumps({"seconds": time.perf_counter() - t0, "results": out}))
