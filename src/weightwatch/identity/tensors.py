"""Format-invariant tensor digests: the same weights give the same digest in any file.

A tensor's digest covers its name, dtype, shape and canonical little-endian bytes, so
safetensors, a PyTorch ``.bin`` and any re-sharding of one model agree, and one flipped
bit anywhere does not. The *value* digest goes further and sees through a GGUF export:
names mapped back from llama.cpp, Q/K rows un-permuted, values compared as float32
(exact for F16/BF16), dtype left out — "this GGUF holds exactly those values".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts import Artifact, Tensor
from weightwatch.artifacts.llamacpp import ROPE_PERMUTED, gguf_to_hf_name, unpermute_qk
from weightwatch.identity.hashing import new_hasher

TENSOR_DOMAIN = b"weightwatch/tensor/v1\x00"
VALUE_DOMAIN = b"weightwatch/value/v1\x00"


@dataclass(frozen=True)
class TensorDigest:
    name: str
    dtype: str
    shape: tuple[int, ...]
    digest: bytes


def _header(domain: bytes, name: str, dtype: str | None, shape: tuple[int, ...]) -> bytes:
    fields: list[Any] = [name, list(shape)] if dtype is None else [name, dtype, list(shape)]
    return domain + json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode() + b"\x00"


def tensor_hasher(name: str, dtype: str, shape: tuple[int, ...], algorithm: str) -> Any:
    """A hasher primed with the tensor's header; feed it the canonical bytes next."""
    h = new_hasher(algorithm)
    h.update(_header(TENSOR_DOMAIN, name, dtype, shape))
    return h


def _le_bytes(arr: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def tensor_digest(t: Tensor, algorithm: str) -> TensorDigest:
    h = tensor_hasher(t.name, t.dtype, t.shape, algorithm)
    h.update(_le_bytes(t.data()))
    return TensorDigest(t.name, t.dtype, t.shape, h.digest())


def value_digests(art: Artifact, algorithm: str) -> Iterator[TensorDigest]:
    """Per-tensor value digests under Hugging Face names and layout."""
    for name, values in _hf_values(art):
        h = new_hasher(algorithm)
        h.update(_header(VALUE_DOMAIN, name, None, values.shape))
        h.update(_le_bytes(values.astype("<f4", copy=False)))
        yield TensorDigest(name, "F32", tuple(values.shape), h.digest())


def _hf_values(art: Artifact) -> Iterator[tuple[str, npt.NDArray[np.float32]]]:
    kept, _ = art.canonical_tensors
    meta = art.gguf_metadata if _primary_is_gguf(art) else None
    arch = str(meta.get("general.architecture", "")) if meta else ""
    out: list[tuple[str, npt.NDArray[np.float32]]] = []
    for t in kept:
        values = t.to_float32()
        name = t.name
        if meta is not None:
            mapped = _map_gguf(t.name, arch)
            if mapped is not None:
                name = mapped
                values = _unpermute(name, values, arch, meta)
        out.append((name, values))
    # Order by the *mapped* name so the value tree is the same whatever the source names.
    out.sort(key=lambda kv: kv[0])
    yield from out


def _primary_is_gguf(art: Artifact) -> bool:
    formats = {f.path: f.format.value for f in art.files}
    return bool(art.primary_files) and all(formats.get(p) == "gguf" for p in art.primary_files)


def _map_gguf(name: str, arch: str) -> str | None:
    try:
        return gguf_to_hf_name(name, arch)
    except KeyError:
        return None


def _unpermute(name: str, w: npt.NDArray[np.float32], arch: str, meta: dict[str, Any]) -> Any:
    if arch not in ROPE_PERMUTED:
        return w
    heads = meta.get(f"{arch}.attention.head_count")
    kv = meta.get(f"{arch}.attention.head_count_kv", heads)
    if name.endswith("self_attn.q_proj.weight") and isinstance(heads, int):
        return unpermute_qk(w, heads)
    if name.endswith("self_attn.k_proj.weight") and isinstance(kv, int):
        return unpermute_qk(w, kv)
    return w
