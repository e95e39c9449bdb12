"""The scanner's benign corpus: files written by real producers, built once and cached.

``build_benign_corpus(cache, scale=1)`` runs every producer of ``benign_producers`` into
``cache/benign-s<scale>-<key>/`` (the key covers the producers' source and the library
versions, so an upgrade rebuilds it) and returns a ``BenignCorpus``: every file with the
producer that wrote it, and the producers that could not run here with the reason. A
finished corpus carries ``manifest.json``; a half-built one is rebuilt.

``python -m weightwatch.testing.benign_corpus OUT --scale N`` builds it from the command
line (``make scanner-corpus`` uses scale 4: over 1,000 files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from weightwatch.testing import benign_producers, chat_templates
from weightwatch.testing.family import cached

LIBRARIES = (
    "torch", "transformers", "peft", "tokenizers", "numpy", "scikit-learn", "joblib",
    "xgboost", "xgboost-cpu", "lightgbm", "pandas", "skops", "keras", "onnx", "gguf",
    "sentence-transformers",
)  # fmt: skip


@dataclass(frozen=True)
class BenignFile:
    path: Path
    producer: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class BenignCorpus:
    root: Path
    files: list[BenignFile]
    skipped: dict[str, str]  # producer -> why it could not run here
    versions: dict[str, str]


def versions() -> dict[str, str]:
    found = {}
    for lib in LIBRARIES:
        try:
            found[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return found


def _key(scale: int) -> str:
    h = hashlib.sha256(json.dumps(versions(), sort_keys=True).encode())
    for module in (benign_producers, chat_templates):
        h.update(Path(str(module.__file__)).read_bytes())
    return f"benign-s{scale}-{h.hexdigest()[:12]}"


def build_benign_corpus(cache: Path, *, scale: int = 1) -> BenignCorpus:
    root = cached(cache, _key(scale), lambda tmp: _produce(tmp, scale))
    manifest = root / "manifest.json"
    doc = json.loads(manifest.read_text())
    files = [
        BenignFile(f, f.relative_to(root).parts[0])
        for f in sorted(root.rglob("*"))
        if f.is_file() and f.parent != root
    ]
    return BenignCorpus(root, files, doc["skipped"], doc["versions"])


def _produce(root: Path, scale: int) -> None:
    """Every producer's files under ``root/<producer>``, and the manifest."""
    root.mkdir(parents=True)
    skipped: dict[str, str] = {}
    for name, produce in benign_producers.PRODUCERS.items():
        out = root / name
        out.mkdir()
        try:
            produce(out, scale)
        except ImportError as exc:
            skipped[name] = f"not installed here: {exc}"
            shutil.rmtree(out)
        except Exception as exc:  # a producer that breaks is reported, never hidden
            skipped[name] = f"failed: {type(exc).__name__}: {exc}"
            (root / f"{name}.error.txt").write_text(traceback.format_exc())
            shutil.rmtree(out)
    (root / "manifest.json").write_text(
        json.dumps({"skipped": skipped, "versions": versions()}, indent=1, sort_keys=True)
    )


@dataclass(frozen=True)
class Evaluation:
    """The scanner over a corpus: files scanned, those flagged at high/critical (with the
    rules and explanations that flagged them), and those it could not read."""

    files: int
    flagged: dict[str, list[str]]  # path relative to the corpus root -> reasons
    errors: dict[str, str]

    @property
    def false_positive_rate(self) -> float:
        return len(self.flagged) / self.files if self.files else 0.0


def evaluate(corpus: BenignCorpus) -> Evaluation:
    """Scan each producer's folder as a whole (folders are how models are uploaded)."""
    from weightwatch.scan import Severity, scan_paths

    flagged: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    files = 0
    for producer in sorted({f.producer for f in corpus.files}):
        for report in scan_paths([corpus.root / producer]).files:
            files += 1
            rel = report.path  # "<producer>/..." relative to the corpus root
            high = [f for f in report.findings if f.severity >= Severity.HIGH]
            if high:
                flagged[rel] = [f"{f.rule_id}: {f.explanation}" for f in high]
            if report.error:
                errors[rel] = report.error
    return Evaluation(files, flagged, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--scan", action="store_true", help="scan it and print the results")
    args = parser.parse_args()
    corpus = build_benign_corpus(args.cache, scale=args.scale)
    by: dict[str, int] = {}
    for f in corpus.files:
        by[f.producer] = by.get(f.producer, 0) + 1
    print(f"{len(corpus.files)} files under {corpus.root}")
    for name, count in sorted(by.items()):
        print(f"  {name:24} {count}")
    for name, why in corpus.skipped.items():
        print(f"  skipped {name}: {why}")
    if args.scan:
        result = evaluate(corpus)
        print(
            f"scanned {result.files} files: {len(result.flagged)} flagged high/critical "
            f"({100 * result.false_positive_rate:.2f}%), {len(result.errors)} errors"
        )
        for path, reasons in sorted(result.flagged.items()):
            print(f"  flagged {path}: {reasons[0]}")
        for path, why in sorted(result.errors.items()):
            print(f"  error {path}: {why}")
        if result.errors or result.false_positive_rate > 0.005:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
