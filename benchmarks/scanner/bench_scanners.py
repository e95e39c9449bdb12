"""weightwatch vs picklescan, modelscan and fickling on one labelled corpus, in one run.

The corpus (``weightwatch.testing.scan_corpus``) holds techniques from the public bypass
record, each citing its source, and benign files shaped like real checkpoints plus whole
tiny-model folders. A malicious file counts as detected when a tool flags it as dangerous
(weightwatch: a high or critical finding); a benign file flagged that way is a false
positive. The other tools run in their own virtualenv (modelscan needs numpy<2),
created here on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from weightwatch.scan import Severity, scan_paths
from weightwatch.testing import build_family
from weightwatch.testing.scan_corpus import build_corpus

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
TOOLS = ("picklescan", "modelscan", "fickling")


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                "picklescan",
                "modelscan",
                "fickling",
                "typing_extensions",
                "numpy<2",
            ],
            check=True,
            capture_output=True,
        )
    return py


def versions(py: Path) -> dict[str, str]:
    names = ", ".join(repr(t) for t in TOOLS)
    code = f"import importlib.metadata as m, json; print(json.dumps({{t: m.version(t) for t in ({names},)}}))"
    return json.loads(
        subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout
    )


def main() -> None:
    py = ensure_venv()
    cache = Path(
        os.environ.get("WEIGHTWATCH_FIXTURE_CACHE", HERE.parent.parent / ".cache" / "fixtures")
    )
    families = [build_family(arch=a, cache=cache) for a in ("llama", "gpt2")]
    with tempfile.TemporaryDirectory() as tmp:
        folders = [fam.root for fam in families]
        entries = build_corpus(Path(tmp), families=folders)
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
        for tool in TOOLS:
            proc = subprocess.run(
                [str(py), str(HERE / "runner.py"), tool, str(listing)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            doc = json.loads(proc.stdout)
            seconds[tool] = doc["seconds"]
            flagged[tool] = {p: r["flagged"] for p, r in doc["results"].items()}
            errors[tool] = sum(
                1 for r in doc["results"].values() if r["error"] and not r["flagged"]
            )
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
            f"| {t} | {det}/{len(mal)} | {det / len(mal):.0%} | {fp}/{len(ben)} | {errors[t]} | {seconds[t]:.2f} |"
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


if __name__ == "__main__":
    main()
