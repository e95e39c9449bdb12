"""Does a registration hold a model, and could its weights be read?

Two questions the registry asks of every upload, so that nothing it could not see is
published: :func:`refuse_without_model` (a folder in which nothing declares a model is
refused before anything is stored) and :func:`weights_problem` (the files declare a
model but the fingerprinter could not read its weights: which file, and why — such a
version is quarantined). Both defer to the artifact layer's own signal
(:mod:`weightwatch.artifacts.inspectable`); what the registry adds is the fingerprint
step's outcome: weights that were read but could not be fingerprinted are not seen either.
"""

from __future__ import annotations

from pathlib import Path

from weightwatch.artifacts.inspectable import check_weights, declared_model_evidence
from weightwatch.errors import ArtifactError

PREFIX = "weights not inspectable: "


def refuse_without_model(source: Path) -> None:
    """Raise :class:`ArtifactError` naming ``source`` when it holds no model at all (an
    empty folder, or files none of which declares a model), before anything is stored."""
    if source.is_dir() and not any(p.is_file() for p in source.rglob("*")):
        raise ArtifactError(source, "is empty: there is no model to register")
    if not declared_model_evidence(source):
        raise ArtifactError(
            source,
            "holds no model: no config.json with architectures, tokenizer, model card, "
            "or weight file",
            hint="register the folder that holds the model's weights",
        )


def weights_problem(work: Path, fingerprint_error: str) -> str | None:
    """``"<file>: <why>"`` when the files in ``work`` declare a model whose weights were
    not fingerprinted; ``None`` when nothing declares a model, or for a PEFT adapter whose
    tensors were read (it is fingerprinted merged into its base)."""
    status = check_weights(work)
    if not status.declares_model:
        return None
    if status.reason is not None:
        return strip_root(status.reason.removeprefix(PREFIX), work)
    if (work / "adapter_config.json").is_file():
        return None
    return strip_root(fingerprint_error, work)


def strip_root(message: str, root: Path) -> str:
    """A message without the registry's private work-folder path in it."""
    return message.replace(f"{root}/", "").replace(str(root), ".")
