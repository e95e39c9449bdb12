"""The edges of weight watermarking: marking a model folder, and gradients of text.

``embed_folder`` rewrites the safetensors files of a Hugging Face–style folder with the
scheme's keyed noise added to the chosen matrices (every other file is copied as is) and
writes ``weightwatch-watermark.json``. ``load_reference`` loads the model the detector
differentiates: the original folder, or a marked folder minus its keyed noise (the record
says which tensors). Nothing in a folder is executed: weights are read with safetensors
and the model is built by transformers from its ``config.json`` (no remote code).
torch, transformers and safetensors' torch API are imported lazily (the ``[hf]`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.weightfolder import (
    read_record,
    rewrite_folder,
    rms,
    tensor_shapes,
    torch_module,
    weight_files,
)
from weightwatch.watermark.weightreport import Reference
from weightwatch.watermark.weightscheme import (
    RECORD_FILE,
    MarkedTensor,
    PerturbationScheme,
    WeightMarkRecord,
    WeightScheme,
    get_weight_scheme,
)

F64 = npt.NDArray[np.float64]


def embed_folder(
    model_dir: str | Path, out: str | Path, *, scheme: WeightScheme, key: WatermarkKey
) -> WeightMarkRecord:
    """Write a marked copy of ``model_dir`` to ``out`` (which must not exist or be empty)."""
    torch = torch_module()
    src, dst = Path(model_dir), Path(out)
    scheme.check_key(key)
    files = weight_files(src)
    if read_record(src) is not None:
        raise UsageError(f"{src} is already watermarked ({RECORD_FILE}); mark the original")
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"{dst} exists and is not empty; choose a new output folder")
    if not isinstance(scheme, PerturbationScheme):
        from weightwatch.watermark.distill import DistillMark
        from weightwatch.watermark.distill_train import embed_distilled

        if not isinstance(scheme, DistillMark):
            raise UsageError(f"weight scheme {scheme.name!r} cannot embed into a folder")
        return embed_distilled(src, dst, scheme=scheme, key=key, progress=None)
    chosen = set(scheme.select(tensor_shapes(src)))

    def add_noise(_file: Path, tensors: dict[str, Any]) -> list[MarkedTensor]:
        marked: list[MarkedTensor] = []
        for name in sorted(chosen & tensors.keys()):
            w = tensors[name].to(torch.float32, copy=True).contiguous()
            std = _add_noise(scheme, key, name, w.numpy(), rms(w))
            tensors[name] = w.to(tensors[name].dtype).contiguous()
            marked.append(MarkedTensor(name=name, shape=tuple(w.shape), std=std))
            del w
        return marked

    return rewrite_folder(src, dst, files, add_noise, scheme=scheme, key=key)


def _add_noise(scheme: PerturbationScheme, key: WatermarkKey, name: str, w: Any, r: float) -> float:
    """The scheme's mark added to ``w`` in place (in blocks where the scheme can)."""
    if isinstance(scheme, GaussMark):
        return scheme.add_noise_(key, name, w, r)
    noise, std = scheme.perturbation(key, name, tuple(w.shape), r)
    w += noise
    return std


@dataclass
class LoadedReference:
    """A loaded model at weights that do not depend on the key, and how it was obtained."""

    model: Any
    tokenizer: Any
    scheme: GaussMark
    names: list[str]
    stds: dict[str, float]
    reference: Reference
    record: WeightMarkRecord | None


def load_reference(
    model_dir: str | Path,
    *,
    key_for_record: Mapping[str, WatermarkKey] | None = None,
    scheme: GaussMark | None = None,
) -> LoadedReference:
    """The model to differentiate: the original, or a marked folder minus its noise.

    A folder with a record needs the key it was marked with (``key_for_record`` maps key
    ids to keys); an original folder needs ``scheme`` to know which matrices to test.
    """
    from weightwatch.watermark.generation import load_model

    torch = torch_module()
    path = Path(model_dir)
    record = read_record(path)
    model, tok = load_model(path)
    params = dict(model.named_parameters())
    if record is None:
        if scheme is None:
            scheme = GaussMark.from_params()  # type: ignore[assignment]
        assert isinstance(scheme, GaussMark)
        names = scheme.select({n: tuple(p.shape) for n, p in params.items()})
        stds = {n: scheme.noise_std(n, rms(params[n].detach().float())) for n in names}
        return LoadedReference(model, tok, scheme, names, stds, "original", None)
    built = get_weight_scheme(record.scheme, **_params_only(record.params))
    if not isinstance(built, GaussMark):
        raise UsageError(f"scheme {record.scheme!r} has no gradient test")
    key = (key_for_record or {}).get(record.key_id)
    if key is None:
        raise UsageError(
            f"{path} was marked with key {record.key_id} ({record.deployment}), not a key given",
            hint="give the original model folder, or the master secret and deployment it used",
        )
    with torch.no_grad():
        for t in record.tensors:
            if t.name not in params or tuple(params[t.name].shape) != t.shape:
                raise ArtifactError(path, f"record names tensor {t.name} the model lacks")
            noise = built.unit_noise(key, t.name, t.shape) * np.float32(t.std)
            params[t.name].sub_(torch.from_numpy(noise).to(params[t.name].dtype))
    stds = {t.name: t.std for t in record.tensors}
    return LoadedReference(model, tok, built, sorted(stds), stds, "marked-minus-key", record)


def _params_only(described: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in described.items() if k != "name"}


def log_likelihood_gradient(
    ref: LoadedReference, token_ids: Sequence[int], *, chunk: int = 1024
) -> dict[str, F64]:
    """Gradient of ``log p(text)`` (each token given the ones before it, after BOS)."""
    torch = torch_module()
    model = ref.model
    wanted = set(ref.names)
    params = dict(model.named_parameters())
    for name, p in params.items():
        p.requires_grad_(name in wanted)
    bos = ref.tokenizer.bos_token_id
    ids = ([int(bos)] if bos is not None else []) + [int(t) for t in token_ids]
    vocab = int(model.config.vocab_size)
    if ids and not 0 <= min(ids) <= max(ids) < vocab:
        raise UsageError(
            f"token ids must lie in [0, {vocab}) for this model, got {min(ids)}..{max(ids)}",
            hint="give the text, or ids from this model's tokenizer",
        )
    model.zero_grad(set_to_none=True)
    limit = int(
        getattr(model.config, "max_position_embeddings", 0)
        or getattr(model.config, "n_positions", chunk)
    )
    step = max(2, min(chunk, limit))
    for lo in range(0, max(1, len(ids) - 1), step - 1):
        piece = torch.tensor([ids[lo : lo + step]], dtype=torch.long)
        if piece.shape[1] < 2:
            break
        logits = model(input_ids=piece).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        total = logp.gather(1, piece[0, 1:, None]).sum()
        total.backward()
    out: dict[str, F64] = {}
    for name in ref.names:
        g = params[name].grad
        out[name] = (
            np.zeros(tuple(params[name].shape)) if g is None else g.detach().double().numpy()
        )
    return out


def weight_delta(ref: LoadedReference, derivative_dir: str | Path) -> dict[str, F64]:
    """``W_derivative - W_original`` for the marked matrices (same names and shapes)."""
    from safetensors import safe_open

    path = Path(derivative_dir)
    shapes = tensor_shapes(path)
    params = dict(ref.model.named_parameters())
    out: dict[str, F64] = {}
    for f in weight_files(path):
        with safe_open(str(f), framework="pt") as fh:
            for name in ref.names:
                if name in shapes and name in fh.keys():  # noqa: SIM118
                    t = fh.get_tensor(name).double().numpy()
                    if t.shape != tuple(params[name].shape):
                        raise ArtifactError(f, f"{name} has shape {t.shape}, not the original's")
                    out[name] = t - params[name].detach().double().numpy()
    missing = [n for n in ref.names if n not in out]
    if missing:
        raise ArtifactError(path, f"lacks marked tensors {missing[:3]} (another architecture?)")
    return out


__all__ = [
    "LoadedReference",
    "embed_folder",
    "load_reference",
    "log_likelihood_gradient",
    "read_record",
    "tensor_shapes",
    "weight_delta",
    "weight_files",
]
