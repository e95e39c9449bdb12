"""Compute a ``Fingerprint`` from weights alone: no inference, only the tensors it needs.

It reads the token embeddings (anchor rows only), and per layer the attention and MLP
matrices once each, streamed row block by row block, so memory stays bounded and a
large model costs one sequential read of its attention and MLP weights.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts import Artifact, open_artifact
from weightwatch.artifacts.declared import declared_bases
from weightwatch.errors import ArtifactError
from weightwatch.fingerprint.layout import F32, Layout, layout_of, project
from weightwatch.fingerprint.model import Fingerprint
from weightwatch.fingerprint.units import (
    canonical_units,
    has_units,
    layer_units,
    unit_layers,
    unit_parts,
)
from weightwatch.fingerprint.vocab import ANCHORS, anchor_ids

MIN_ANCHORS = 32


def fingerprint(path: str | os.PathLike[str] | Artifact) -> Fingerprint:
    """Fingerprint the model at ``path`` (folder, safetensors/.bin file or GGUF)."""
    art = path if isinstance(path, Artifact) else open_artifact(path)
    lay = layout_of(art)
    if art.tokenizer is None or not art.tokenizer.vocab:
        raise ArtifactError(
            art.root, "no tokenizer vocabulary (tokenizer.json or GGUF tokens) to match tokens by"
        )
    emb_t = lay.embeddings()
    ids = anchor_ids(art.tokenizer.vocab, int(emb_t.shape[0]))
    anchors = tuple(a for a in ANCHORS if a in ids)
    if len(anchors) < MIN_ANCHORS:
        raise ArtifactError(
            art.root,
            f"only {len(anchors)} of the {len(ANCHORS)} anchor tokens are in the vocabulary "
            f"(need {MIN_ANCHORS})",
        )
    x = _rows(emb_t, [ids[a] for a in anchors])
    unit = _unit(x)
    layers: dict[str, list[F32]] = {"qk": [], "ov": [], "mlp_in": [], "mlp_io": []}
    kept = unit_layers(lay.n_layers) if has_units(lay) else []
    with _parallel() as pool:
        # Layers are independent: one per core, each on a single BLAS thread. The
        # products are thin (anchors x width), where BLAS's own threads mostly wait
        # on each other (measured 4-7x slower than one thread on two cores). The layers
        # whose MLP units are kept go first, so the units' eigenbasis (here, on this
        # thread) overlaps with the remaining layers.
        order = kept + [i for i in range(lay.n_layers) if i not in kept]
        jobs = {i: pool.submit(_layer, lay, i, unit, units=i in kept) for i in order}
        units = canonical_units([jobs[i].result()[1] for i in kept]) if kept else None
        for i in range(lay.n_layers):
            for kind, mat in jobs[i].result()[0].items():
                layers[kind].append(mat)
    info = _info(art, lay, emb_t.dtype)
    return Fingerprint(
        anchors=anchors,
        emb=(unit @ unit.T).astype(np.float32),
        # Rounded to the float16 a saved fingerprint keeps, so a model compares the same
        # against a fingerprint file as against the folder it was computed from.
        layers={k: np.stack(v).astype(np.float16).astype(np.float32) for k, v in layers.items()},
        info=info,
        # Rounded to float16 like the anchor matrices, for the same reason.
        units=units.astype(np.float16).astype(np.float32) if units is not None else None,
        unit_layers=tuple(kept) if units is not None else (),
    )


@contextlib.contextmanager
def _parallel() -> Iterator[ThreadPoolExecutor]:
    from threadpoolctl import threadpool_limits

    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        yield pool


def _rows(t: object, rows: list[int]) -> F32:
    from weightwatch.artifacts import Tensor

    assert isinstance(t, Tensor)
    return t.rows(rows)  # only these rows read (and dequantized: a GGUF row is whole blocks)


def _unit(x: F32) -> F32:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


def _norm_input(lay: Layout, i: int, unit: F32, part: str) -> F32:
    """Anchors as the layer's norm hands them on: unit rows times the norm's weights."""
    if lay.kind == "gpt2":
        centred = unit - unit.mean(axis=1, keepdims=True)
        base = _unit(centred)
        name = "ln_1.weight" if part == "attn" else "ln_2.weight"
    else:
        base = unit
        name = "input_layernorm.weight" if part == "attn" else "post_attention_layernorm.weight"
    g = lay.layer(i, name).to_float32().reshape(-1) if lay.has(_full(lay, i, name)) else None
    return base * g[None, :] if g is not None else base


def _full(lay: Layout, i: int, part: str) -> str:
    return (f"model.layers.{i}." if lay.kind == "gated" else f"h.{i}.") + part


def _expand(kv: F32, n_heads: int, n_kv: int) -> F32:
    """Repeat each key/value head's columns for the query heads that share it (GQA)."""
    if n_heads == n_kv:
        return kv
    m, width = kv.shape
    hd = width // n_kv
    return np.repeat(kv.reshape(m, n_kv, 1, hd), n_heads // n_kv, axis=2).reshape(m, -1)


def _layer(
    lay: Layout, i: int, unit: F32, *, units: bool = False
) -> tuple[dict[str, F32], npt.NDArray[np.float64] | None]:
    """Layer ``i``'s anchor matrices, and its MLP units (``units``) from the same read."""
    xa = _norm_input(lay, i, unit, "attn")
    xm = _norm_input(lay, i, unit, "mlp")
    h = lay.hidden
    read: dict[str, list[F32]] = {n: [] for n in unit_parts(lay)} if units else {}

    def proj(x: F32, name: str, *, conv1d: bool = False) -> F32:
        return project(x, lay.layer(i, name), conv1d=conv1d, keep=read.get(name))

    if lay.kind == "gpt2":
        qkv = proj(xa, "attn.c_attn.weight", conv1d=lay.conv1d)
        q, k, v = qkv[:, :h], qkv[:, h : 2 * h], qkv[:, 2 * h : 3 * h]
        # unit @ W_o: W_o maps heads -> residual; as Linear [h, h_heads] we need unit @ W_o,
        # which is project() with the transpose (Conv1D stores W_o.T already).
        o = proj(unit, "attn.c_proj.weight", conv1d=not lay.conv1d)
        up = proj(xm, "mlp.c_fc.weight", conv1d=lay.conv1d)
        down = proj(unit, "mlp.c_proj.weight", conv1d=not lay.conv1d)
        gate = up
    else:
        q = proj(xa, "self_attn.q_proj.weight")
        k = _expand(proj(xa, "self_attn.k_proj.weight"), lay.n_heads, lay.n_kv_heads)
        v = _expand(proj(xa, "self_attn.v_proj.weight"), lay.n_heads, lay.n_kv_heads)
        o = proj(unit, "self_attn.o_proj.weight", conv1d=True)
        gate = proj(xm, "mlp.gate_proj.weight")
        up = proj(xm, "mlp.up_proj.weight")
        down = proj(unit, "mlp.down_proj.weight", conv1d=True)
    mats = {
        "qk": q @ k.T,
        "ov": v @ o.T,
        "mlp_in": gate @ gate.T,
        "mlp_io": up @ down.T,
    }
    whole = {n: np.concatenate(c) if len(c) > 1 else c[0] for n, c in read.items() if c}
    return mats, layer_units(lay, i, whole) if units else None


def _info(art: Artifact, lay: Layout, emb_dtype: str) -> dict[str, object]:
    dtypes = sorted({t.dtype for t in art.model_tensors if len(t.shape) == 2})
    declared = declared_bases(art)
    return {
        "arch": lay.arch,
        "layout": lay.kind,
        "hidden": lay.hidden,
        "layers": lay.n_layers,
        "heads": lay.n_heads,
        "kv_heads": lay.n_kv_heads,
        "vocab": art.tokenizer.vocab_size if art.tokenizer else None,
        "dtypes": dtypes,
        "tied_embeddings": not any(n in lay.tensors for n in ("lm_head.weight", "output.weight")),
        "quantized": _looks_quantized(art, dtypes),
        "zero_fraction": _zero_fraction(lay),
        "source": Path(art.root).name,
        "declared_base_model": list(declared.names),
        "declared_relation": declared.relation,
        "embedding_dtype": emb_dtype,
    }


def _looks_quantized(art: Artifact, dtypes: list[str]) -> bool:
    """Stored in a quantized type, or float weights on an integer grid (dequantized).

    A row of a symmetric int8/int4 quantization has at most 256 distinct values; a
    trained float row of more than 256 columns essentially never does.
    """
    if any(_stored_quantized(d) for d in dtypes):
        return True
    for t in art.model_tensors:
        if len(t.shape) == 2 and t.shape[1] > 256 and "emb" not in t.name and "wte" not in t.name:
            rows = _rows(t, list(range(8)))
            # Nonzero values only: a magnitude-pruned float row has few nonzeros, all distinct.
            distinct = [int(np.unique(r).size) for r in rows]
            levels = [np.unique(r[r != 0]).size / max(1, int(np.count_nonzero(r))) for r in rows]
            return max(distinct) <= GRID_LEVELS and max(levels) < 0.75
    return False


GRID_LEVELS = 257  # distinct values a row of an 8-bit grid (and 0) can hold at most


def _stored_quantized(dtype: str) -> bool:
    """A quantized storage type (GGUF Q*/IQ*, integers, FP8), not a float one."""
    return not dtype.startswith(("F", "BF")) or dtype.startswith("F8")


def _zero_fraction(lay: Layout, rows: int = 16) -> float:
    """Share of exact zeros, beyond what the storage grid puts there, in the first rows of
    layer 0's and the middle layer's attention and MLP weights: ~0 for trained or
    quantized weights, the pruned fraction for a magnitude-pruned copy (zeros survive
    quantization, so a pruned GGUF shows them too). See :func:`_excess_zeros`."""
    names = ("self_attn.q_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")
    if lay.kind == "gpt2":
        names = ("attn.c_attn.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    zeros = total = 0.0
    for i in sorted({0, lay.n_layers // 2}):
        for name in names:
            full = _full(lay, i, name)
            if not lay.has(full):
                continue
            t = lay.tensors[full]
            if len(t.shape) != 2 or t.shape[0] * t.shape[1] > 1 << 26:
                continue  # a whole quantized matrix would be dequantized: skip giants
            x = _rows(t, list(range(min(rows, int(t.shape[0])))))
            zeros += _excess_zeros(x, grid=_stored_quantized(t.dtype))
            total += int(x.size)
    return round(zeros / total, 4) if total else 0.0


GRID_BLOCK = 16  # divides every GGUF scale group (32; K-quant sub-blocks of 16 and 32)


def _excess_zeros(x: F32, *, grid: bool) -> float:
    """Exact zeros in ``x`` less the ones a symmetric quantization grid makes by itself.

    A symmetric grid (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K, int4 per row, ...) stores every weight
    under half a step as 0: about 10% of a Q4_0 block is zero with nothing pruned. Weights
    are dense near 0, so that zero bin holds about as many as each of its neighbours, the
    levels ±d: the grid's own zeros are estimated as the mean count of the two, per block
    of ``GRID_BLOCK`` (d = the smallest nonzero magnitude in the block, each block inside
    one scale group). Magnitude pruning empties the ±d levels as well, so a pruned copy
    keeps nearly all its zeros as excess. Float rows (many distinct values) are no grid:
    their zeros count in full."""
    zeros = float(np.count_nonzero(x == 0))
    is_grid = grid or max((np.unique(r).size for r in x), default=0) <= GRID_LEVELS
    if not is_grid or zeros == 0 or x.shape[1] % GRID_BLOCK:
        return zeros
    a = np.abs(x.reshape(-1, GRID_BLOCK))
    d = np.where(a > 0, a, np.inf).min(axis=1, keepdims=True)
    neighbours = float(np.count_nonzero((a == d) & np.isfinite(d))) / 2
    return max(0.0, zeros - neighbours)
