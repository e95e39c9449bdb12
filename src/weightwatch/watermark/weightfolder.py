"""A marked model folder's files: which hold weights, their shapes, the mark's record, and
the one writer of a marked copy. Below both the weight-perturbation edge (``weightio``) and
the distillation trainer (``distill_train``), which each write marked folders through
``rewrite_folder``; nothing here imports either. Nothing in a folder is executed: weights are
read with safetensors. torch is imported lazily (the ``[hf]`` extra).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.weightscheme import (
    RECORD_FILE,
    MarkedTensor,
    WeightMarkRecord,
    WeightScheme,
)


def torch_module() -> Any:
    """torch, or a UsageError naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise UsageError("weight watermarks need torch", hint="install weightwatch[hf]") from exc
    return torch


def weight_files(model_dir: Path) -> list[Path]:
    if not (model_dir / "config.json").is_file():
        raise ArtifactError(model_dir, "not a model folder (no config.json)")
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ArtifactError(
            model_dir, "no .safetensors weights (convert pickled weights first: no pickle is read)"
        )
    return files


def tensor_shapes(model_dir: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and shape, from the safetensors headers only."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for f in weight_files(model_dir):
        try:
            with safe_open(str(f), framework="np") as fh:
                for name in fh.keys():  # noqa: SIM118 (safe_open has no __iter__)
                    shapes[name] = tuple(fh.get_slice(name).get_shape())
        except Exception as exc:  # safetensors raises its own error types
            raise ArtifactError(f, f"cannot read safetensors header: {exc}") from exc
    return shapes


def read_record(model_dir: Path) -> WeightMarkRecord | None:
    path = model_dir / RECORD_FILE
    if not path.exists():
        return None
    try:
        return WeightMarkRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ArtifactError(path, f"not a weight-watermark record: {exc}") from exc


def rewrite_folder(
    src: Path,
    dst: Path,
    files: Sequence[Path],
    edit: Callable[[Path, dict[str, Any]], list[MarkedTensor]],
    *,
    scheme: WeightScheme,
    key: WatermarkKey,
) -> WeightMarkRecord:
    """Copy ``src`` to ``dst`` with each safetensors file's tensors passed through ``edit``
    (given the file, for its errors; it changes the tensors in place and says which it
    changed), each file keeping its metadata, and write the mark's record: the one way a
    marked folder is written, for every scheme."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.suffix != ".safetensors" and item.is_file():
            shutil.copy2(item, dst / item.name)
    changed: list[MarkedTensor] = []
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            metadata = fh.metadata()
        tensors = load_file(str(f))
        changed += edit(f, tensors)
        save_file(tensors, str(dst / f.name), metadata=metadata)
    record = WeightMarkRecord(
        scheme=scheme.name,
        params=scheme.describe(),
        key_id=key.key_id,
        deployment=key.deployment,
        rotation=key.rotation,
        tensors=tuple(changed),
    )
    (dst / RECORD_FILE).write_text(json.dumps(record.to_json(), indent=2) + "\n")
    return record


def rms(w: Any) -> float:
    """Root-mean-square of a float tensor: the scale GaussMark's noise is relative to."""
    return float(w.square().mean().sqrt())
