"""Where a model keeps the weights a fingerprint reads, in Linear ``[out, in]`` orientation.

Two layouts cover the decoder families weightwatch fingerprints: GPT-2 (fused ``c_attn``,
``Conv1D`` weights stored ``[in, out]``, plain MLP) and "gated", the Llama names every
other family is brought to by ``fingerprint.parts`` (Mistral, Mixtral and other
mixtures of experts, Qwen2/3, Gemma 2/3, Phi-3, GPT-NeoX, Falcon, ...: whatever
llama.cpp's tensor tables name), in safetensors and GGUF naming alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts import Artifact, Tensor
from weightwatch.artifacts.dequant import row_chunks
from weightwatch.artifacts.llamacpp import gguf_to_hf_name, supported
from weightwatch.errors import ArtifactError
from weightwatch.fingerprint.parts import canonical_tensors, head_counts

F32 = npt.NDArray[np.float32]

_LLAMA_LAYER = re.compile(r"^(?:model\.)?layers\.(\d+)\.(.+)$")
_GPT2_LAYER = re.compile(r"^(?:transformer\.)?h\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Layout:
    """Named access to one model's tensors, whatever file format holds them."""

    root: Path
    kind: str  # "gated" (Llama-like) or "gpt2"
    arch: str
    hidden: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    tensors: dict[str, Tensor]  # Hugging Face names, prefix-free for GPT-2
    conv1d: bool  # GPT-2 weights stored [in, out] (Hugging Face), not [out, in] (GGUF)

    def embeddings(self) -> Tensor:
        for name in ("model.embed_tokens.weight", "embed_tokens.weight", "wte.weight"):
            if name in self.tensors:
                return self.tensors[name]
        raise ArtifactError(self.root, "no token embedding matrix found")

    def has(self, name: str) -> bool:
        return name in self.tensors

    def layer(self, i: int, part: str) -> Tensor:
        prefix = f"model.layers.{i}." if self.kind == "gated" else f"h.{i}."
        t = self.tensors.get(prefix + part)
        if t is None:
            raise ArtifactError(self.root, f"layer {i} has no {part}")
        return t


def layout_of(art: Artifact) -> Layout:
    """Find the layout of ``art``'s primary weights; a clear error for other models."""
    if not art.primary_files and not (art.adapter is not None and not art.config):
        found = ", ".join(f"{f.path} reads as {f.format.value}" for f in art.files[:5])
        raise ArtifactError(art.subject, f"no weight file found ({found or 'no files'})")
    if art.adapter is not None and not art.config:
        raise ArtifactError(
            art.root, "a PEFT adapter holds only weight deltas: fingerprint it merged into its base"
        )
    gguf = art.gguf_metadata is not None and all(
        f.format.value == "gguf" for f in art.files if f.path in art.primary_files
    )
    arch = (art.family or "").lower()
    kept = art.model_tensors  # quantized groups folded, dequantized on read
    if arch == "gpt2" or any(t.name.endswith("h.0.attn.c_attn.weight") for t in kept):
        names = _gpt2_names(kept, gguf=gguf)
        kind = "gpt2"
    else:
        if arch and not supported(arch):
            raise ArtifactError(
                art.subject,
                f"fingerprint: unsupported architecture {arch!r} (weightwatch reads the "
                "decoder families in llama.cpp's tensor tables, from the gguf package)",
            )
        names = canonical_tensors(art, arch or "llama", gguf=gguf)
        kind = "gated"
    pattern = _GPT2_LAYER if kind == "gpt2" else _LLAMA_LAYER
    layers = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    if not layers:
        raise ArtifactError(
            art.subject, "no transformer layers found (not a decoder language model?)"
        )
    n_layers = max(layers) + 1
    emb = next((names[n] for n in ("model.embed_tokens.weight", "wte.weight") if n in names), None)
    if emb is None or len(emb.shape) != 2:
        raise ArtifactError(art.subject, "no 2-D token embedding matrix found")
    # GGUF stores the embedding as [vocab, hidden] in numpy order too.
    hidden = int(emb.shape[1])
    heads, kv = head_counts(art, arch)
    if heads is None:
        raise ArtifactError(art.root, "the number of attention heads is not recorded")
    return Layout(
        art.root, kind, arch, hidden, n_layers, heads, kv, names, conv1d=kind == "gpt2" and not gguf
    )


def _gpt2_names(kept: tuple[Tensor, ...], *, gguf: bool) -> dict[str, Tensor]:
    names: dict[str, Tensor] = {}
    for t in kept:
        name = t.name
        if gguf:
            mapped = gguf_to_hf_name(name, "gpt2")
            if mapped is None:
                continue
            name = mapped
        if name.startswith("transformer."):
            name = name[len("transformer.") :]
        names[name] = t
    return names


def project(x: F32, t: Tensor, *, conv1d: bool = False, keep: list[F32] | None = None) -> F32:
    """``x @ W.T`` for a Linear weight ``W`` (``x @ W`` for Conv1D), row block by row
    block: memory stays bounded and each block is multiplied while it is in cache.
    ``keep`` (if given) receives each float32 row block, for a caller that needs the
    matrix itself too (``fingerprint.units``) without reading it twice."""
    out: F32 | None = None
    parts: list[F32] = []
    for a, w in row_chunks(t):
        if keep is not None:
            keep.append(w)
        if conv1d:  # [in, out]: slice input rows, accumulate
            part = x[:, a : a + w.shape[0]] @ w
            out = part if out is None else out + part
        else:
            parts.append(x @ w.T)
    if conv1d:
        assert out is not None
        return out
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
