"""weightwatch vs picklescan, modelscan, fickling, ModelAudit and aisbom-cli, in one run, on
two corpora: the labelled corpus (malicious techniques and benign files) and the benign
files real producers write (``weightwatch.testing.benign_corpus``, scale from
``SCANNER_BENCH_SCALE``, 1 by default; 4 is the full 1,428-file corpus).

The corpus (``weightwatch.testing.scan_corpus``) holds techniques from the public bypass
record, each citing its source, and benign files shaped like real checkpoints plus whole
tiny-model folders. A malicious file counts as detected when a tool flags it as dangerous
(weightwatch: a high or critical finding); a benign file flagged that way is a false
positive. The other tools run in their own virtualenv (modelscan needs numpy<2),
created here on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from weightwatch.scan import Severity, scan_paths
from weightwatch.testing import build_family
from weightwatch.testing.scan_corpus import build_corpus

HERE = Path(__file__).resolve().parent
# modelscan reads .npy files only with numpy<2; fickling and ModelAudit's current releases
# need numpy>=2 (with numpy<2 pip falls back to old releases), so they get a second venv.
VENV = Path(os.environ.get("SCANNER_BENCH_VENV", HERE / ".venv"))
VENV2 = Path(os.environ.get("SCANNER_BENCH_VENV2", HERE / ".venv-numpy2"))
TOOLS = ("picklescan", "modelscan", "fickling", "modelaudit", "aisbom")
IN_VENV2 = ("fickling", "modelaudit")
PIP_NAMES = {"aisbom": "aisbom-cli"}
QUIET = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "AISBOM_NO_TELEMETRY": "1", "AISBOM_OFFLINE": "1"}


def _venv(path: Path, packages: list[str]) -> Path:
    py = path / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", *packages], check=True, capture_output=True
        )
    return py


def ensure_venv() -> Path:
    _venv(VENV2, ["fickling", "modelaudit"])
    return _venv(VENV, ["picklescan", "modelscan", "aisbom-cli", "typing_extensions", "numpy<2"])


def tool_python(py: Path, tool: str) -> Path:
    return VENV2 / "bin" / "python" if tool in IN_VENV2 else py


def versions(py: Path) -> dict[str, str]:
    found = {}
    for tool in TOOLS:
        name = PIP_NAMES.get(tool, tool)
        code = f"import importlib.metadata as m; print(m.version({name!r}))"
        found[name] = subprocess.run(
            [str(tool_python(py, tool)), "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
    return found


def main() -> None:
    py = ensure_venv()
    cache = Path(
        os.environ.get("WEIGHTWATCH_FIXTURE_CACHE", HERE.parent.parent / ".cache" / "fixtures")
    )
    families = [build_family(arch=a, cache=cache) for a in ("llama", "gpt2")]
    with tempfile.TemporaryDirectory() as tmp:
        folders = [fam.root for fam in families]
        labelled = RESULTS / "labelled-corpus"  # a stable place, so a stopped run resumes
        shutil.rmtree(labelled, ignore_errors=True)
        labelled.mkdir(parents=True)
        entries = build_corpus(labelled, families=folders)
        paths = [str(e.path) for e in entries]
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps(paths))
        flagged: dict[str, dict[str, bool]] = {}
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        ww = {}
        for p in paths:
            report = scan_paths([p])
            ww[p] = any(f.severity >= Severity.HIGH for f in report.findings())
        seconds["weightwatch"] = time.perf_counter() - t0
        flagged["weightwatch"] = ww
        errors: dict[str, int] = {"weightwatch": 0}
        unreached: dict[str, int] = {"weightwatch": 0}
        for tool in TOOLS:
            doc = _run_tool(py, tool, listing, "labelled")
            seconds[tool] = doc["seconds"]
            flagged[tool] = {p: r["flagged"] for p, r in doc["results"].items()}
            errors[tool] = sum(
                1 for r in doc["results"].values() if r["error"] and not r["flagged"]
            )
            unreached[tool] = sum(1 for r in doc["results"].values() if r.get("not_reached"))
        ver = versions(py)
    mal = [e for e in entries if e.malicious]
    ben = [e for e in entries if not e.malicious]
    order = ["weightwatch", *TOOLS]
    print("### Scanner: detection on the labelled corpus, side by side\n")
    print(
        f"{len(mal)} malicious files (distinct techniques from the public bypass record, each with its "
        f"source) and {len(ben)} benign files (torch.save of real layers and optimizer states in both "
        f"formats, NumPy files and pickles, plain-data pickles, tokenizer configs with real-shaped chat "
        f"templates, and every file of the tiny Llama and GPT-2 families: safetensors, .bin zip and legacy, "
        f"GGUF F16/Q8_0, PEFT adapter). Versions: "
        + ", ".join(f"{t} {v}" for t, v in ver.items())
        + ". Detected = flagged as dangerous (weightwatch: high or critical).\n"
    )
    print(
        "| tool | malicious detected | detection rate | false positives (benign flagged) | files the tool could not read (not flagged) | wall time (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for t in order:
        det = sum(flagged[t][str(e.path)] for e in mal)
        fp = sum(flagged[t][str(e.path)] for e in ben)
        print(
            f"| {t} | {det}/{len(mal)} | {det / len(mal):.0%} | {fp}/{len(ben)} | {errors[t]}{_unreached(unreached[t])} | {seconds[t]:.2f} |"
        )
    print("\nPer technique (✓ detected, · missed):\n")
    print("| file | technique | source | " + " | ".join(order) + " |")
    print("|---|---|---|" + "---|" * len(order))
    for e in mal:
        marks = " | ".join("✓" if flagged[t][str(e.path)] else "·" for t in order)
        print(f"| `{e.name}` | {e.technique} | {e.source} | {marks} |")
    fps = [(t, e.name) for t in order for e in ben if flagged[t][str(e.path)]]
    if fps:
        print("\nFalse positives: " + ", ".join(f"{t}: `{n}`" for t, n in fps))
    real_producers(py, cache, order)


# Results per tool and corpus are appended to JSONL files here as each file is scanned, so
# a run that is stopped resumes where it was (paths are the key: the benign corpus lives in
# the fixture cache; the labelled corpus is rebuilt in a fresh folder each run).
RESULTS = Path(os.environ.get("SCANNER_BENCH_RESULTS", HERE / ".results"))
# Seconds one tool may take over one corpus in this run (default: no limit); files it has
# not reached then are reported as "not reached", never as clean or missed.
BUDGET = float(os.environ.get("SCANNER_BENCH_TOOL_BUDGET", "inf"))


def _sha(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def _unreached(n: int) -> str:
    return f" (+{n} not reached in the time budget)" if n else ""


def _load_results(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "path" in doc:
                done[doc["path"]] = doc
    return done


def _run_tool(py: Path, tool: str, listing: Path, corpus: str) -> dict:
    """One tool over every file in ``listing``. A tool that kills its own process (a
    segfault, an abort, os._exit in a dependency) is restarted after the file it died on,
    which is counted as an error ("crashed the tool"), so one file cannot lose a run.
    Results already in ``RESULTS`` from an earlier run are reused; seconds are summed."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    store = RESULTS / f"{corpus}-{tool}.jsonl"
    wanted: list[str] = json.loads(listing.read_text())
    done = {
        p: d for p, d in _load_results(store).items() if d.get("sha", _sha(p)) == _sha(p)
    }  # a result is reused only for the same bytes
    seconds = sum(float(d.get("seconds", 0.0)) for d in done.values() if d.get("path") in wanted)
    results = {p: {"flagged": d["flagged"], "error": d["error"]} for p, d in done.items()}
    todo = [p for p in wanted if p not in results]
    # in a seeded random order: a tool stopped by the time budget leaves a random sample of
    # the corpus scanned, not its first producers
    random.Random(0).shuffle(todo)
    started = time.perf_counter()
    while todo:
        left = BUDGET - (time.perf_counter() - started)
        if left <= 0:
            break
        part = listing.with_name(f"{listing.stem}-{tool}-rest.json")
        part.write_text(json.dumps(todo))
        scratch = listing.with_name(f"{listing.stem}-{tool}-new.jsonl")
        scratch.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [
                    str(tool_python(py, tool)),
                    str(HERE / "runner.py"),
                    tool,
                    str(part),
                    str(scratch),
                ],
                capture_output=True,
                text=True,
                timeout=min(3600.0, left),
                env={**os.environ, **QUIET},
            )
        except subprocess.TimeoutExpired:
            proc = None
        spent = time.perf_counter() - t0
        seconds += spent
        new = _load_results(scratch)
        with store.open("a") as f:
            for p, d in new.items():
                doc = {**d, "seconds": spent / max(1, len(new)), "sha": _sha(p)}
                f.write(json.dumps(doc) + "\n")
                results[p] = {"flagged": d["flagged"], "error": d["error"]}
        todo = [p for p in todo if p not in results]
        if proc is None or not todo:
            break  # out of time, or done
        if '"seconds"' in proc.stdout:  # the runner finished: what it skipped has no result
            for p in todo:
                results[p] = {"flagged": False, "error": "no result"}
            break
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        print(f"<!-- {tool} crashed on {todo[0]}: {tail[0][:200]} -->", file=sys.stderr)
        crash = {"path": todo[0], "flagged": False, "error": f"crashed the tool: {tail[0][:100]}"}
        crash["sha"] = _sha(todo[0])
        with store.open("a") as f:
            f.write(json.dumps(crash) + "\n")
        results[todo[0]] = {"flagged": False, "error": crash["error"]}
        todo = todo[1:]
    for p in wanted:
        results.setdefault(p, {"flagged": False, "error": None, "not_reached": True})
    return {"seconds": seconds, "results": {p: results[p] for p in wanted}}


def real_producers(py: Path, cache: Path, order: list[str]) -> None:
    """Every tool over the benign files real libraries write: false positives, errors, time."""
    from weightwatch.testing.benign_corpus import build_benign_corpus, evaluate

    corpus = build_benign_corpus(cache, scale=int(os.environ.get("SCANNER_BENCH_SCALE", "1")))
    paths = [str(f.path) for f in corpus.files]
    rows: dict[str, tuple[int, int, float, int]] = {}
    errors_by_tool: dict[str, dict[str, int]] = {}
    fp_by_tool: dict[str, dict[str, int]] = {}
    t0 = time.perf_counter()
    result = evaluate(corpus)  # weightwatch scans each producer's folder, as models are uploaded
    rows["weightwatch"] = (len(result.flagged), len(result.errors), time.perf_counter() - t0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps(paths))
        for tool in TOOLS:
            doc = _run_tool(py, tool, listing, corpus.root.name)
            res = doc["results"].values()
            producer_of = {str(f.path): f.producer for f in corpus.files}
            fps: dict[str, int] = {}
            for path, r in doc["results"].items():
                if r["flagged"]:
                    fps[producer_of[path]] = fps.get(producer_of[path], 0) + 1
            if fps:
                fp_by_tool[tool] = fps
            kinds: dict[str, int] = {}
            for r in res:
                if r["error"] and not r["flagged"]:
                    kinds[str(r["error"])[:60]] = kinds.get(str(r["error"])[:60], 0) + 1
            if kinds:
                errors_by_tool[tool] = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:5])
            rows[tool] = (
                sum(r["flagged"] for r in res),
                sum(1 for r in res if r["error"] and not r["flagged"]),
                doc["seconds"],
                sum(1 for r in res if r.get("not_reached")),
            )
    by: dict[str, int] = {}
    for f in corpus.files:
        by[f.producer] = by.get(f.producer, 0) + 1
    print("\n### Scanner: benign files from real producers, side by side\n")
    print(
        f"{len(paths)} files written by the real libraries ("
        + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
        + "; docs/scanner-corpus.md). Every file is benign, so every flagged file is a false "
        "positive. Other tools scan file by file; weightwatch scans each producer's folder.\n"
    )
    print(
        "| tool | flagged (false positives) | rate | could not read (not flagged) | wall time (s) |"
    )
    print("|---|---:|---:|---:|---:|")
    for t in order:
        fp, err, sec, left = rows[t]
        seen = len(paths) - left  # a budget-stopped tool is judged on the files it reached
        print(
            f"| {t} | {fp}/{seen} | {fp / max(1, seen):.1%} | {err}{_unreached(left)} | {sec:.1f} |"
        )
    for rel, reasons in sorted(result.flagged.items()):
        print(f"\nweightwatch flagged `{rel}`: " + "; ".join(reasons))
    for rel, why in sorted(result.errors.items()):
        print(f"\nweightwatch could not read `{rel}`: {why}")
    for tool, fps in fp_by_tool.items():
        print(
            f"\n{tool} flagged, by producer: "
            + ", ".join(f"{k} {n}" for k, n in sorted(fps.items()))
        )
    for tool, kinds in errors_by_tool.items():
        print(f"\n{tool} could not read: " + ", ".join(f"{k} ×{n}" for k, n in kinds.items()))


if __name__ == "__main__":
    main()
