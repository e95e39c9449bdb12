"""Whether an upload declares a model, and whether its weights could be read.

The registry must not publish what it could not see: a folder with a ``config.json``
naming an architecture and a ``model.safetensors`` of random bytes is not "clean", it is
*not inspectable*. ``check_weights(path)`` answers both questions without raising for
unreadable weights (it raises only when the path does not exist), so a caller can choose:
quarantine (declares a model, weights unreadable) or refuse (no model at all).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from weightwatch.artifacts.artifact import Artifact
from weightwatch.artifacts.limits import LIMITS, UnpackLimits
from weightwatch.artifacts.model import FileFormat
from weightwatch.artifacts.opening import open_artifact, weight_like_name
from weightwatch.errors import ArtifactError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
)
CARD_FILES = ("README.md", "MODEL_CARD.md", "model_card.md")
WEIGHT_LIKE_SIZE = 1 << 20  # an unknown binary this large could be weights


@dataclass(frozen=True)
class WeightsStatus:
    """``declares_model``: the files say a model is here (``evidence`` says which).
    ``inspectable``: its weights were read (at least one tensor). ``reason`` is set when
    not: ``"weights not inspectable: <file>: <why>"``."""

    declares_model: bool
    inspectable: bool
    evidence: tuple[str, ...] = ()
    reason: str | None = None
    tensor_count: int = 0


def check_weights(path: str | os.PathLike[str], *, limits: UnpackLimits = LIMITS) -> WeightsStatus:
    """Open ``path`` (unwrapping as ``open_artifact`` does) and say what was seen."""
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise ArtifactError(root, "no such file or directory")
    evidence = declared_model_evidence(root)
    try:
        art = open_artifact(root, limits=limits)
    except ArtifactError as exc:
        return WeightsStatus(bool(evidence), False, evidence, f"weights not inspectable: {exc}")
    return status_of(art, evidence)


def status_of(art: Artifact, evidence: tuple[str, ...] | None = None) -> WeightsStatus:
    """The status of an artifact already open (evidence from its listing if not given)."""
    ev = evidence if evidence is not None else _evidence_from_listing(art)
    try:
        n = sum(1 for _ in art.iter_tensors())
    except ArtifactError as exc:
        return WeightsStatus(bool(ev), False, ev, f"weights not inspectable: {exc}")
    if n:
        return WeightsStatus(True, True, ev or ("weights",), None, n)
    return WeightsStatus(bool(ev), False, ev, f"weights not inspectable: {_why_none(art)}")


def _why_none(art: Artifact) -> str:
    """Name the file that should have held weights, and what it holds instead."""
    for f in art.files:
        if weight_like_name(f.path):
            what = f.format.value + (f" ({f.detail})" if f.detail else "")
            return f"{f.path}: named like weights but holds {what}"
    for f in art.files:
        if f.format in (FileFormat.UNKNOWN, FileFormat.HDF5, FileFormat.ONNX, FileFormat.PICKLE):
            return f"{f.path}: {f.format.value} content this reader cannot take tensors from"
    if art.problems:
        return art.problems[0]
    return f"{art.root.name or art.root}: no weight file is present"


def declared_model_evidence(root: Path) -> tuple[str, ...]:
    """What in the listing says "a model": config architectures, tokenizer, card, names."""
    out: list[str] = []
    if root.is_file():
        if weight_like_name(root.name):
            out.append(f"{root.name}: weight-like name")
        if root.stat().st_size >= WEIGHT_LIKE_SIZE:
            out.append(f"{root.name}: {root.stat().st_size} bytes")
        return tuple(out)
    cfg = root / "config.json"
    if cfg.is_file() and not cfg.is_symlink() and cfg.stat().st_size <= 16 << 20:
        try:
            doc = json.loads(cfg.read_bytes())
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and (doc.get("architectures") or doc.get("model_type")):
            arch = doc.get("architectures") or doc.get("model_type")
            out.append(f"config.json: declares {json.dumps(arch)[:120]}")
    out += [f"{n}: tokenizer" for n in TOKENIZER_FILES if (root / n).is_file()]
    out += [f"{n}: model card" for n in CARD_FILES if (root / n).is_file()]
    count = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in sorted(files):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            count += 1
            if count > 10_000:
                return tuple(out)
            if weight_like_name(name):
                out.append(f"{rel}: weight-like name")
            elif not p.is_symlink() and p.stat().st_size >= WEIGHT_LIKE_SIZE:
                out.append(f"{rel}: {p.stat().st_size} bytes")
    return tuple(out)


def _evidence_from_listing(art: Artifact) -> tuple[str, ...]:
    out: list[str] = []
    if art.config and (art.config.architectures or art.config.model_type):
        out.append(f"config.json: declares {art.config.architectures or art.config.model_type}")
    if art.tokenizer:
        out.append(f"{art.tokenizer.source or 'tokenizer'}: tokenizer")
    if art.card:
        out.append("README.md: model card")
    out += [f"{f.path}: weight-like name" for f in art.files if weight_like_name(f.path)]
    return tuple(out)
