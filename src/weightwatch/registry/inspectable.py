"""Does a registration hold a model, and could its weights be read?

Two questions the registry asks of every upload, so that nothing it could not see is
published: :func:`model_evidence` (do the files declare a model at all — a folder with
none is refused before anything is stored) and :func:`weights_problem` (the files
declare a model but the fingerprinter could not read its weights: which file, and why —
such a version is quarantined).

Computed here from the opened :class:`~weightwatch.artifacts.Artifact` and the
fingerprint step's outcome; kept small so it can defer to the artifact layer's own
signal once that layer reports it.
"""

from __future__ import annotations

from pathlib import Path

from weightwatch.artifacts import Artifact, open_artifact
from weightwatch.errors import ArtifactError, WeightwatchError

# Names and sizes an uploader gives weights (the content may say otherwise: that is
# the point — a text file named model.safetensors still declares a model).
WEIGHT_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".onnx", ".h5",
    ".keras", ".npz", ".npy", ".msgpack", ".pkl", ".pickle", ".joblib", ".tflite",
    ".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".tar", ".tgz", ".7z",
)  # fmt: skip
WEIGHT_STEMS = ("model", "weights", "pytorch_model", "consolidated", "adapter_model", "ggml")
LARGE = 1 << 20  # a file this big in a model folder is presumed to hold weights


def _weight_like(path: str, size: int) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    stem = name.split(".", 1)[0]
    return name.endswith(WEIGHT_SUFFIXES) or stem.startswith(WEIGHT_STEMS) or size >= LARGE


def model_evidence(artifact: Artifact) -> list[str]:
    """What in the files declares a model (empty: nothing does)."""
    out: list[str] = []
    if artifact.config is not None and artifact.config.architectures:
        out.append("config.json names architectures " + ", ".join(artifact.config.architectures))
    if artifact.tokenizer is not None:
        out.append("a tokenizer")
    if artifact.card is not None:
        out.append("a model card")
    if artifact.adapter is not None:
        out.append("an adapter config")
    out += [
        f"{f.path} ({f.format.value})"
        for f in artifact.files
        if f.format.holds_weights or _weight_like(f.path, f.size)
    ]
    return out


def refuse_without_model(source: Path) -> None:
    """Raise :class:`ArtifactError` naming ``source`` when it holds no model at all (an
    empty folder, or files none of which declares a model), before anything is stored."""
    if source.is_dir() and not any(p.is_file() for p in source.rglob("*")):
        raise ArtifactError(source, "is empty: there is no model to register")
    try:
        artifact = open_artifact(source)
    except (WeightwatchError, ValueError):
        return  # a file a reader took for weights and choked on: the pipeline reports it
    if not model_evidence(artifact):
        raise ArtifactError(
            source,
            "holds no model: no config.json with architectures, tokenizer, model card, "
            "or weight file",
            hint="register the folder that holds the model's weights",
        )


def weights_problem(artifact: Artifact, fingerprint_error: str | None) -> str | None:
    """``"<file>: <why>"`` when the files declare a model whose weights were not read;
    ``None`` when they were (``fingerprint_error`` is ``None``), when the artifact is an
    adapter whose tensors were read (it is fingerprinted merged into its base), or when
    nothing declares a model."""
    if fingerprint_error is None or not model_evidence(artifact):
        return None
    if artifact.adapter is not None and artifact.weight_files:
        return None
    root = artifact.root
    for path, error in artifact.failures.items():  # a weight file that failed to parse
        return f"{path}: {strip_root(error.message, root)}"
    for f in artifact.files:  # a file named or sized like weights that no reader took
        if f.path not in artifact.weight_files and _weight_like(f.path, f.size):
            what = f"{f.format.value} content ({f.size} bytes)"
            return f"{f.path}: {what}, not weights a reader can open"
    where = artifact.primary_files[0] if artifact.primary_files else "(no weight file)"
    return f"{where}: {strip_root(fingerprint_error, root)}"


def strip_root(message: str, root: Path) -> str:
    """A message without the registry's private work-folder path in it."""
    return message.replace(f"{root}/", "").replace(str(root), ".")
