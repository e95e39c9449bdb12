"""Derivatives of a real GGUF model, made in NumPy and written back as GGUF.

The source is read once (metadata through ``gguf.GGUFReader``, which keeps every array
whole; tensors dequantized through weightwatch's reader); each derivative applies one
edit to the float32 weights and is written with ``gguf.GGUFWriter`` under the same
names, tokenizer and metadata, in ``F16``, ``Q8_0`` (int8) or ``Q4_0`` (int4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Edit = Callable[[str, F32], F32]
_FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}
_SKIP = {"general.architecture", "general.file_type", "general.alignment"}


@dataclass(frozen=True)
class Source:
    arch: str
    fields: list[tuple[str, Any, Any, Any]]  # key, value, type, array element type
    tensors: dict[str, F32]


def load(path: Path) -> Source:
    """Every metadata field and every tensor (as float32) of the GGUF at ``path``."""
    import gguf

    from weightwatch.artifacts import open_artifact

    reader = gguf.GGUFReader(path, "r")
    fields: list[tuple[str, Any, Any, Any]] = []
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in _SKIP:
            continue
        vtype = field.types[0]
        sub = field.types[1] if len(field.types) > 1 else None
        fields.append((key, field.contents(), vtype, sub))
    arch = str(reader.fields["general.architecture"].contents())
    del reader
    art = open_artifact(path)
    tensors = {t.name: np.ascontiguousarray(t.to_float32()) for t in art.iter_tensors()}
    return Source(arch, fields, tensors)


def write(src: Source, out: Path, edit: Edit | None = None, *, qtype: str = "F16") -> Path:
    """``src`` with ``edit(name, weights)`` applied to every tensor, as a GGUF."""
    import gguf

    w = gguf.GGUFWriter(str(out), src.arch)
    for key, value, vtype, sub in src.fields:
        w.add_key_value(key, value, vtype, sub_type=sub)
    w.add_file_type(_FILE_TYPE[qtype])
    for name, arr in src.tensors.items():
        x = edit(name, arr) if edit is not None else arr
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 1 or qtype == "F32":
            w.add_tensor(name, x)
        elif qtype == "F16":
            w.add_tensor(name, x.astype(np.float16))
        else:
            kind = getattr(gguf.GGMLQuantizationType, qtype)
            w.add_tensor(name, gguf.quants.quantize(x, kind), raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def _is_block_matrix(name: str, arr: F32) -> bool:
    return name.startswith("blk.") and arr.ndim == 2


def perturb(scale: float, seed: int = 0) -> Edit:
    """Every block matrix moved by ``scale`` of its spread: a fine-tune stand-in."""
    rng = np.random.default_rng(seed)

    def edit(name: str, arr: F32) -> F32:
        if not _is_block_matrix(name, arr):
            return arr
        noise = rng.standard_normal(arr.shape, dtype=np.float32)
        return arr + noise * (scale * float(arr.std()))

    return edit


def prune(fraction: float) -> Edit:
    """The ``fraction`` smallest-magnitude weights of every block matrix set to zero."""

    def edit(name: str, arr: F32) -> F32:
        if not _is_block_matrix(name, arr):
            return arr
        cut = np.quantile(np.abs(arr), fraction)
        return np.where(np.abs(arr) < cut, np.float32(0), arr)

    return edit


def permute_mlp(seed: int = 0) -> Edit:
    """The MLP's hidden units shuffled in every block (gate/up rows, down columns by
    the same permutation): the function is unchanged, every matrix is different."""
    rng = np.random.default_rng(seed)
    perms: dict[str, npt.NDArray[np.intp]] = {}

    def edit(name: str, arr: F32) -> F32:
        parts = name.split(".")
        if len(parts) < 3 or parts[0] != "blk" or arr.ndim != 2:
            return arr
        block, kind = parts[1], parts[2]
        if kind not in ("ffn_gate", "ffn_up", "ffn_down"):
            return arr
        units = arr.shape[1] if kind == "ffn_down" else arr.shape[0]
        perm = perms.setdefault(block, rng.permutation(units))
        return arr[:, perm] if kind == "ffn_down" else arr[perm]

    return edit


def new_vocabulary(
    src: Source, tokens: list[str], merges: list[str], *, seed: int, std: float = 0.02
) -> Source:
    """``src`` forked onto a new byte-level BPE vocabulary: every ``tokenizer.*`` field
    replaced by ``tokens`` and ``merges``, and the token embeddings (and an untied output
    layer) re-drawn from N(0, ``std``) for the new vocabulary, as a fork that adopts a new
    tokenizer or language does; the transformer blocks are left as they are."""
    import gguf

    old = len(next(f[1] for f in src.fields if f[0] == "tokenizer.ggml.tokens"))
    vt = gguf.GGUFValueType
    fields = [
        f
        for f in src.fields
        if not f[0].startswith("tokenizer.") and not f[0].endswith("vocab_size")
    ]
    fields += [
        ("tokenizer.ggml.model", "gpt2", vt.STRING, None),
        ("tokenizer.ggml.pre", "default", vt.STRING, None),
        ("tokenizer.ggml.tokens", tokens, vt.ARRAY, vt.STRING),
        ("tokenizer.ggml.token_type", [1] * len(tokens), vt.ARRAY, vt.INT32),
        ("tokenizer.ggml.merges", merges, vt.ARRAY, vt.STRING),
        ("tokenizer.ggml.bos_token_id", 0, vt.UINT32, None),
        ("tokenizer.ggml.eos_token_id", 0, vt.UINT32, None),
    ]
    rng = np.random.default_rng(seed)
    tensors = {
        name: (
            rng.normal(0.0, std, (len(tokens), arr.shape[1])).astype(np.float32)
            if name in ("token_embd.weight", "output.weight") and arr.shape[0] == old
            else arr
        )
        for name, arr in src.tensors.items()
    }
    return Source(src.arch, fields, tensors)
