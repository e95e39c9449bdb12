"""The ``Artifact``: one model's files, metadata and lazy tensors, and totals over them.

When a folder holds the same model in several formats (safetensors and a ``.bin``), one
*primary* weight set is chosen for totals and iteration, so nothing is counted twice;
every weight file stays reachable through ``iter_tensors(file=...)``. Build one with
``open_artifact``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.artifacts import hfrepo
from weightwatch.artifacts.model import WRAPPER_FORMATS, ArtifactFile, Tensor, TensorInfo
from weightwatch.errors import ArtifactError

_OUTPUT_EMBEDDINGS = ("lm_head.weight", "output.weight")
_INPUT_EMBEDDINGS = (
    "model.embed_tokens.weight",
    "transformer.wte.weight",
    "embed_tokens.weight",
    "wte.weight",
    "token_embd.weight",
    "model.language_model.embed_tokens.weight",
)


@dataclass(frozen=True)
class Totals:
    parameter_count: int  # tied weights counted once
    tensor_count: int  # names in the primary set, tied ones included
    bytes_by_dtype: dict[str, int]  # bytes of the distinct parameters (tied ones once)
    params_by_dtype: dict[str, int]
    tied: tuple[tuple[str, str], ...]  # (name counted, name skipped)


@dataclass(frozen=True)
class Artifact:
    """A model artifact opened for reading: values only, tensor data read on request."""

    root: Path
    is_dir: bool
    files: tuple[ArtifactFile, ...]
    primary_files: tuple[str, ...]
    config: hfrepo.ConfigInfo | None = None
    tokenizer: hfrepo.TokenizerInfo | None = None
    card: hfrepo.CardInfo | None = None
    adapter: hfrepo.AdapterInfo | None = None
    gguf_metadata: dict[str, Any] | None = None
    problems: tuple[str, ...] = ()
    _tensors: Mapping[str, tuple[Tensor, ...]] = field(default_factory=dict, repr=False)
    _failed: Mapping[str, ArtifactError] = field(default_factory=dict, repr=False)
    # The unpacked view (temporary folder) that lazy tensors read from, kept alive with
    # the artifact when weights came wrapped; see ``unwrap``.
    _scratch: object | None = field(default=None, repr=False, compare=False)

    # -- tensors ---------------------------------------------------------------
    def iter_tensors(self, *, file: str | None = None) -> Iterator[Tensor]:
        """Lazy tensors of the primary weight set, or of one weight file."""
        files = (file,) if file is not None else self.primary_files
        for f in files:
            if f in self._failed:
                raise self._failed[f]
            if f not in self._tensors:
                raise ArtifactError(self.root / f, "not a weight file of this artifact")
            yield from self._tensors[f]

    def tensor_infos(self, *, file: str | None = None) -> list[TensorInfo]:
        return [t.info for t in self.iter_tensors(file=file)]

    def tensor(self, name: str) -> Tensor:
        for t in self.iter_tensors():
            if t.name == name:
                return t
        raise ArtifactError(self.root, f"no tensor named {name!r}")

    @property
    def weight_files(self) -> tuple[str, ...]:
        """Every file whose tensors could be read (primary or not)."""
        return tuple(self._tensors)

    # -- derived facts -----------------------------------------------------------
    @property
    def subject(self) -> Path:
        """What the user named, the one path every command works on: the file itself
        when one file was opened, else the folder. (A file's ``root`` is its folder, so
        scanning ``root`` would widen ``model.gguf`` to everything beside it.)"""
        if self.is_dir or not self.files:
            return self.root
        # A wrapper named by the user lists its unpacked contents beside itself.
        named = [
            f for f in self.files if f.format in WRAPPER_FORMATS and (self.root / f.path).is_file()
        ]
        return self.root / (named[0] if named else self.files[0]).path

    @property
    def family(self) -> str | None:
        """Architecture family (llama, gpt2, qwen2, ...) from config or GGUF metadata."""
        if self.config and self.config.model_type:
            return self.config.model_type
        if self.gguf_metadata and isinstance(self.gguf_metadata.get("general.architecture"), str):
            return str(self.gguf_metadata["general.architecture"])
        if self.adapter and self.adapter.peft_type:
            return f"adapter:{self.adapter.peft_type.lower()}"
        return None

    @cached_property
    def canonical_tensors(self) -> tuple[tuple[Tensor, ...], tuple[tuple[str, str], ...]]:
        """The primary tensors with tied duplicates removed, and the (kept, dropped) pairs.

        Tensors that are one view of one storage, or output embeddings equal to the input
        embeddings under ``tie_word_embeddings``, are one parameter. The input-side name
        is kept (as ``save_pretrained`` does), so the same model saved as safetensors or
        as a ``.bin`` holding both names yields the same set.
        """
        tensors = list(self.iter_tensors())
        group_of: dict[str, str] = {}  # name -> group key
        groups: dict[str, list[Tensor]] = {}
        for t in tensors:
            key = f"{t.storage_key}|{t.shape}|{t.dtype}" if t.storage_key else f"name|{t.name}"
            group_of[t.name] = key
            groups.setdefault(key, []).append(t)
        by_name = {t.name: t for t in tensors}
        for out_name, in_name in self._tied_by_config(by_name).items():
            a, b = group_of[out_name], group_of[in_name]
            if a != b:
                groups[b].extend(groups.pop(a))
                for t in groups[b]:
                    group_of[t.name] = b
        kept: list[Tensor] = []
        tied: list[tuple[str, str]] = []
        for members in groups.values():
            members.sort(key=lambda t: (t.name in _OUTPUT_EMBEDDINGS, t.name))
            kept.append(members[0])
            tied += [(members[0].name, m.name) for m in members[1:]]
        kept.sort(key=lambda t: t.name)
        return tuple(kept), tuple(sorted(tied))

    @cached_property
    def model_tensors(self) -> tuple[Tensor, ...]:
        """The canonical tensors with quantized groups (GPTQ, AWQ, bitsandbytes, scaled
        FP8) folded into one logical ``<prefix>.weight`` each, which dequantizes on
        ``to_float32()``: the weights as the model uses them (see ``quantized``)."""
        from weightwatch.artifacts.quantized import fold_quantized

        qc = self.config.raw.get("quantization_config") if self.config else None
        return fold_quantized(self.canonical_tensors[0], qc if isinstance(qc, dict) else None)

    @cached_property
    def totals(self) -> Totals:
        _kept, tied = self.canonical_tensors
        kept = self.model_tensors  # a packed int4 group counts its logical parameters
        by_dtype: dict[str, int] = {}
        params_by_dtype: dict[str, int] = {}
        for t in kept:
            by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.info.nbytes
            params_by_dtype[t.dtype] = params_by_dtype.get(t.dtype, 0) + t.info.numel
        n_tensors = sum(1 for _ in self.iter_tensors())
        return Totals(sum(params_by_dtype.values()), n_tensors, by_dtype, params_by_dtype, tied)

    def _tied_by_config(self, by_name: dict[str, Tensor]) -> dict[str, str]:
        """Output embeddings stored separately but tied by config and equal in value."""
        tie = self.config.tie_word_embeddings if self.config else False
        if not tie:
            return {}
        out: dict[str, str] = {}
        for o in _OUTPUT_EMBEDDINGS:
            for i in _INPUT_EMBEDDINGS:
                a, b = by_name.get(o), by_name.get(i)
                if (
                    a is not None
                    and b is not None
                    and (a.shape, a.dtype) == (b.shape, b.dtype)
                    and a.storage_key != b.storage_key
                    and np.array_equal(a.data(), b.data())
                ):
                    out[o] = i
        return out
