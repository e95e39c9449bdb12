"""``weightwatch diff BASE DERIVATIVE``: what was done to the weights, read from the weights.

Reads both models without executing anything (``artifacts``), undoes a permutation when
the derivative is permuted (``align``), classifies every shared tensor (``matrix``), and
names the derivation: ``identical``, ``abliterated`` (one rank-one projection removal
along a direction shared across the residual-writing matrices), ``quantized``, ``lora``
(every change low-rank), ``sparse``, or ``full_finetune``.

The abliteration *score* is the mean share of each residual-writing matrix's change that a
projection removal along its own top direction explains, times the mean |cosine| between
those directions across layers: 1 for an abliterated copy, near 0 for a fine-tune. A
derivative is called ``abliterated`` at a score of at least 0.9 (fixed before validation);
the null of unrelated fine-tunes' scores is measured in the tests and in docs/forensics.md.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.forensics.align import align_llama
from weightwatch.forensics.matrix import MatrixDiff, Writes, classify_matrix
from weightwatch.reports import Report

Derivation = Literal[
    "identical", "abliterated", "quantized", "lora", "sparse", "full_finetune", "mixed"
]
ABLITERATION_THRESHOLD = 0.9
Array = npt.NDArray[np.float64]


class DiffReport(Report):
    base: str
    derivative: str
    derivation: Derivation
    aligned: bool  # a permutation was found and undone
    alignment_quality: float | None
    abliteration_score: float
    direction_consistency: float | None  # mean |cos| between residual-writing directions
    projection_matrices: int  # residual-writing matrices changed by a projection removal
    residual_writers: int
    lora_rank: int | None  # the largest rank among low-rank changes
    quant_bits: int | None
    counts: dict[str, int]  # matrices per kind
    matrices: tuple[MatrixDiff, ...]
    notes: tuple[str, ...] = ()


def writes_residual(name: str) -> Writes:
    """How a Llama-layout tensor writes to the residual stream."""
    if name.endswith(("o_proj.weight", "down_proj.weight")):
        return "rows"
    if name.endswith("embed_tokens.weight"):
        return "columns"
    return "none"


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, Array], dict[str, object]]:
    """Float tensors and the config of a model folder or file, read without executing."""
    from weightwatch.artifacts import open_artifact

    artifact = open_artifact(path)
    tensors = {t.name: np.asarray(t.to_float32(), dtype=np.float64) for t in artifact.model_tensors}
    if not tensors:
        raise ArtifactError(Path(path), "no weight tensors to compare")
    config: dict[str, object] = {}
    cfg = Path(path) / "config.json"
    if cfg.is_file():
        try:
            loaded = json.loads(cfg.read_text())
            config = loaded if isinstance(loaded, dict) else {}
        except ValueError as exc:
            raise ArtifactError(cfg, f"config.json is not JSON: {exc}") from exc
    return tensors, config


def diff_tensors(
    base: Mapping[str, Array],
    derivative: Mapping[str, Array],
    *,
    config: Mapping[str, object] | None = None,
    base_label: str = "base",
    derivative_label: str = "derivative",
) -> DiffReport:
    """Classify the derivation of ``derivative`` from ``base`` (tensor name → array)."""
    shared = sorted(set(base) & set(derivative))
    mismatched = [n for n in shared if base[n].shape != derivative[n].shape]
    if not shared:
        raise UsageError("the two models share no tensor name: not the same architecture")
    if mismatched:
        raise UsageError(f"tensor shapes differ (e.g. {mismatched[0]}): not the same layout")
    notes: list[str] = []
    missing = sorted(set(base) ^ set(derivative))
    if missing:
        notes.append(f"{len(missing)} tensor(s) in only one model (e.g. {missing[0]})")
    aligned, quality, moved = dict(derivative), None, False
    config = config or {}
    kv = config.get("num_key_value_heads") or config.get("num_attention_heads")
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    if isinstance(kv, int) and isinstance(heads, int) and isinstance(hidden, int):
        head_dim = config.get("head_dim") or hidden // heads
        if isinstance(head_dim, int):
            try:
                aligned, moved, quality = align_llama(
                    base, derivative, num_kv_heads=kv, head_dim=head_dim
                )
            except KeyError:
                moved = False
            if moved:
                notes.append(f"undid a permutation (weakest match |corr| {quality:.3f})")
    matrices = tuple(
        classify_matrix(n, base[n], aligned[n], writes=writes_residual(n)) for n in shared
    )
    return _summarise(
        matrices,
        base_label=base_label,
        derivative_label=derivative_label,
        aligned=moved,
        quality=quality,
        notes=notes,
    )


def _summarise(
    matrices: tuple[MatrixDiff, ...],
    *,
    base_label: str,
    derivative_label: str,
    aligned: bool,
    quality: float | None,
    notes: list[str],
) -> DiffReport:
    counts: dict[str, int] = {}
    for m in matrices:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    writers = [m for m in matrices if writes_residual(m.name) != "none"]
    changed_writers = [m for m in writers if m.kind != "unchanged" and m.direction is not None]
    directions = [np.asarray(m.direction) for m in changed_writers]
    consistency = None
    if len(directions) >= 2:
        consistency = float(
            np.mean([abs(float(a @ b)) for a, b in itertools.combinations(directions, 2)])
        )
    energy = (
        float(np.mean([m.projection_energy for m in changed_writers])) if changed_writers else 0.0
    )
    score = energy * (consistency if consistency is not None else 0.0)
    changed = [m for m in matrices if m.kind != "unchanged"]
    kinds = {m.kind for m in changed}
    low = [m.rank for m in changed if m.kind == "low_rank" and m.rank is not None]
    bits = [m.quant_bits for m in changed if m.quant_bits is not None]
    derivation: Derivation
    if not changed:
        derivation = "identical"
    elif score >= ABLITERATION_THRESHOLD and sum(m.kind == "projection" for m in writers) >= 2:
        derivation = "abliterated"
    elif kinds <= {"quantized"} or (
        kinds <= {"quantized", "sparse", "full"}
        and sum(m.kind == "quantized" for m in changed) >= 0.9 * len(changed)
    ):
        derivation = "quantized"
    elif kinds <= {"low_rank", "projection"} or (
        "low_rank" in kinds
        and all(
            m.kind in ("low_rank", "projection") or min(m.shape) <= max(low, default=0)
            for m in changed
        )
    ):
        derivation = "lora"
    elif kinds <= {"sparse"}:
        derivation = "sparse"
    elif kinds & {"full"}:
        derivation = "full_finetune"
    else:
        derivation = "mixed"
    return DiffReport(
        base=base_label,
        derivative=derivative_label,
        derivation=derivation,
        aligned=aligned,
        alignment_quality=quality,
        abliteration_score=score,
        direction_consistency=consistency,
        projection_matrices=sum(m.kind == "projection" for m in writers),
        residual_writers=len(writers),
        lora_rank=max(low) if low and derivation == "lora" else None,
        quant_bits=max(bits) if bits and derivation == "quantized" else None,
        counts=counts,
        matrices=matrices,
        notes=tuple(notes),
    )


def diff_models(base: str | os.PathLike[str], derivative: str | os.PathLike[str]) -> DiffReport:
    """Read both models and classify the derivative's derivation from the base."""
    b, config = load_tensors(base)
    d, _ = load_tensors(derivative)
    return diff_tensors(
        b, d, config=config, base_label=os.fspath(base), derivative_label=os.fspath(derivative)
    )
