"""Format-invariant tensor digests: the same weights give the same digest in any file.

A tensor's digest covers its name, dtype, shape and the digest of its canonical
little-endian bytes, so safetensors, a PyTorch ``.bin`` and any re-sharding of one model
agree, and one flipped bit anywhere does not. Hashing the bytes on their own first lets
one pass over a file serve the tensor digest and, for float32 data, the value digest.

The *value* digest goes further and sees through a GGUF export: names mapped back from
llama.cpp, Q/K rows un-permuted, values compared as float32 (exact for F16/BF16), dtype
left out — "this GGUF holds exactly those values".
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts import Artifact, Tensor
from weightwatch.artifacts.dequant import chunked, row_chunks
from weightwatch.artifacts.llamacpp import ROPE_PERMUTED, gguf_to_hf_name, unpermute_qk
from weightwatch.identity.hashing import new_hasher

# The weights and value identities always use BLAKE3, whatever digest the files get:
# a model has one identity, and BLAKE3 is fast enough to compute it beside SHA-256.
IDENTITY_ALGORITHM = "blake3"
TENSOR_DOMAIN = b"weightwatch/tensor/v1\x00"
VALUE_DOMAIN = b"weightwatch/value/v1\x00"


@dataclass(frozen=True)
class TensorDigest:
    name: str
    dtype: str
    shape: tuple[int, ...]
    digest: bytes
    data_digest: bytes = b""  # digest of the canonical bytes alone


def _header(domain: bytes, name: str, dtype: str | None, shape: tuple[int, ...]) -> bytes:
    fields: list[Any] = [name, list(shape)] if dtype is None else [name, dtype, list(shape)]
    return domain + json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode() + b"\x00"


def data_hasher() -> Any:
    return new_hasher(IDENTITY_ALGORITHM)


def finish(name: str, dtype: str, shape: tuple[int, ...], data_digest: bytes) -> TensorDigest:
    """The tensor digest from its header and the digest of its bytes."""
    h = new_hasher(IDENTITY_ALGORITHM)
    h.update(_header(TENSOR_DOMAIN, name, dtype, shape) + data_digest)
    return TensorDigest(name, dtype, shape, h.digest(), data_digest)


def _value_leaf(name: str, shape: tuple[int, ...], f32_digest: bytes) -> TensorDigest:
    h = new_hasher(IDENTITY_ALGORITHM)
    h.update(_header(VALUE_DOMAIN, name, None, shape) + f32_digest)
    return TensorDigest(name, "F32", shape, h.digest(), f32_digest)


def _le_bytes(arr: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def tensor_digest(t: Tensor) -> TensorDigest:
    h = data_hasher()
    h.update(_le_bytes(t.data()))
    return finish(t.name, t.dtype, t.shape, h.digest())


def value_digests(
    art: Artifact, *, known: dict[str, TensorDigest] | None = None
) -> list[TensorDigest]:
    """Per-tensor value digests under Hugging Face names and layout, sorted by name.

    ``known`` holds tensor digests already computed; a float32 tensor that needs no
    remapping reuses its data digest instead of being read again.
    """
    kept, _ = art.canonical_tensors
    meta = art.gguf_metadata if _primary_is_gguf(art) else None
    arch = str(meta.get("general.architecture", "")) if meta else ""

    def one(t: Tensor) -> TensorDigest:
        name, prior = t.name, (known or {}).get(t.name)
        if meta is None and t.dtype == "F32" and prior is not None and prior.data_digest:
            return _value_leaf(name, t.shape, prior.data_digest)
        mapped = _map_gguf(t.name, arch) if meta is not None else None
        h = data_hasher()
        if (mapped is not None and _permuted(mapped, arch)) or not chunked(t):
            values = t.to_float32()
            if mapped is not None and meta is not None:
                values = _unpermute(mapped, values, arch, meta)
            h.update(_le_bytes(np.asarray(values, dtype="<f4")))
            return _value_leaf(mapped or name, tuple(values.shape), h.digest())
        # Row block by row block: the same bytes as the whole float32 tensor, hashed
        # while each block is in cache and without a float32 copy of all of it.
        for _, block in row_chunks(t):
            h.update(_le_bytes(np.asarray(block, dtype="<f4")))
        return _value_leaf(mapped or name, t.shape, h.digest())

    # Tensors in parallel: dequantizing and BLAKE3 release the GIL.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        out = list(pool.map(one, kept))
    # Order by the *mapped* name so the value tree is the same whatever the source names.
    out.sort(key=lambda d: d.name)
    return out


def _permuted(name: str, arch: str) -> bool:
    """Whether the value digest un-permutes this (Hugging Face-named) tensor's rows."""
    return arch in ROPE_PERMUTED and name.endswith(
        ("self_attn.q_proj.weight", "self_attn.k_proj.weight")
    )


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
