"""Runs one third-party scanner over a list of files; executed inside the scanners' own venv.

Usage: runner.py TOOL FILE_LIST_JSON  ->  prints one JSON line per file as it is done
(``{"path": ..., "flagged": bool, "error": str|null}``, flushed, so a parent whose tool
killed this process knows which file did it and resumes after it), then
``{"seconds": ...}``.
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


def modelaudit(path: str) -> tuple[bool, str | None]:
    """promptfoo ModelAudit; "dangerous" = an issue of severity critical."""
    from modelaudit.core import scan_model_directory_or_file

    r = scan_model_directory_or_file(path)
    doc = r.model_dump() if hasattr(r, "model_dump") else dict(r)
    issues = doc.get("issues") or []
    sev = {str(i.get("severity", "")).lower().split(".")[-1] for i in issues}
    errors = doc.get("has_errors")
    return "critical" in sev, ("scan error" if errors else None)


TOOLS = {
    "picklescan": picklescan,
    "fickling": fickling,
    "modelscan": modelscan,
    "modelaudit": modelaudit,
}


def aisbom_batch(paths: list[str]) -> dict[str, dict[str, object]]:
    """aisbom-cli starts in ~2 s, so it scans one folder of hard links to every file (named
    by index, so equal names do not collide) and its SBOM is mapped back per file."""
    import os
    import shutil
    import subprocess
    import tempfile

    out: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "files")
        os.mkdir(folder)
        names = {}
        for i, p in enumerate(paths):
            name = f"{i:05d}_{os.path.basename(p)}"
            try:
                os.link(p, os.path.join(folder, name))
            except OSError:
                shutil.copyfile(p, os.path.join(folder, name))
            names[name] = p
        sbom = os.path.join(tmp, "sbom.json")
        env = dict(os.environ, AISBOM_NO_TELEMETRY="1", AISBOM_OFFLINE="1", AISBOM_NO_OSV="1")
        exe = os.path.join(os.path.dirname(sys.executable), "aisbom")
        subprocess.run(
            [exe, "scan", folder, "--offline", "--output", sbom],
            capture_output=True, env=env, cwd=tmp, timeout=3600, check=False,
        )  # fmt: skip
        comps = []
        if os.path.exists(sbom):
            with open(sbom) as f:
                comps = json.load(f).get("components", [])
    risk: dict[str, list[str]] = {}
    for c in comps:
        for prop in c.get("properties", []):
            if prop["name"] == "aisbom:risk":
                risk.setdefault(str(c.get("name")), []).append(prop["value"])
    for name, p in names.items():
        r = risk.get(name)
        flagged = bool(r) and any(v.startswith(("CRITICAL", "HIGH")) for v in r or [])
        out[p] = {"flagged": flagged, "error": None if r else "no component for the file"}
    return out


def _emit(line: str, out: object) -> None:
    print(line, flush=True)
    if out is not None:
        out.write(line + "\n")  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]


if __name__ == "__main__":
    tool, listing = sys.argv[1], sys.argv[2]
    # optional third argument: a JSONL file the results are appended to as they come
    # (the parent resumes from it after a crash, a time budget or a restarted run)
    out = open(sys.argv[3], "a") if len(sys.argv) > 3 else None  # noqa: SIM115
    with open(listing) as f:
        paths = json.load(f)
    t0 = time.perf_counter()
    if tool == "aisbom":
        for p, r in aisbom_batch(paths).items():
            _emit(json.dumps({"path": p, **r}), out)
        paths = []
    for p in paths:
        try:
            flagged, err = TOOLS[tool](p)
        except BaseException as exc:  # a crash (even SystemExit) is an error, not a detection
            flagged, err = False, f"{type(exc).__name__}: {exc}"[:200]
        _emit(json.dumps({"path": p, "flagged": bool(flagged), "error": err}), out)
    print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
