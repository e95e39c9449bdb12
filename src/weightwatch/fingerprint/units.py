"""MLP hidden units, kept so that a model's blocks can be recognised without its embeddings.

For a few layers (``UNIT_LAYERS``, evenly spaced), the ``UNITS`` most important MLP units
(by |gate row|·|up row|·|down column|, which rescaling a unit's up/down cannot change):
each unit's gate row, up row (the MLP's norm weights folded in) and down column — the
directions it reads from and writes to the residual stream. They are expressed in the
model's own canonical residual basis (eigenvectors of the units' second moment, signs
fixed by the third moment) and cut to its first ``RANK`` directions, so a rotated or
permuted copy stores (nearly) the same numbers and the file stays small whatever the
width. ``lineage.blocks`` matches them across models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts import Tensor
from weightwatch.artifacts.dequant import row_chunks
from weightwatch.fingerprint.layout import F32, Layout

UNITS = 128  # units kept per layer
UNIT_LAYERS = 8  # layers kept (evenly spaced, first and last included)
RANK = 256  # canonical residual directions kept


def unit_layers(n_layers: int) -> list[int]:
    if n_layers <= UNIT_LAYERS:
        return list(range(n_layers))
    return sorted({round(i * (n_layers - 1) / (UNIT_LAYERS - 1)) for i in range(UNIT_LAYERS)})


def _names(lay: Layout) -> tuple[str, str | None, str, str | None]:
    """(read matrix, second read matrix, write matrix, norm) for this layout."""
    if lay.kind == "gpt2":
        return "mlp.c_fc.weight", None, "mlp.c_proj.weight", "ln_2.weight"
    return (
        "mlp.gate_proj.weight",
        "mlp.up_proj.weight",
        "mlp.down_proj.weight",
        ("post_attention_layernorm.weight"),
    )


def _oriented(lay: Layout, w: F32, *, reads: bool) -> F32:
    """The stored matrix as [units, residual]: reading matrices are Linear [f, d] (Conv1D
    in Hugging Face GPT-2 is [d, f]); the writing one is Linear [d, f] (Conv1D [f, d]),
    so its rows here are the units' down columns."""
    transposed = lay.conv1d if reads else not lay.conv1d
    return np.ascontiguousarray(w.T) if transposed else w


def _as_f32(t: Tensor) -> F32:
    parts = [w for _, w in row_chunks(t)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    out: npt.NDArray[np.float64] = x / np.where(n > 0, n, 1.0)
    return out


def has_units(lay: Layout) -> bool:
    """Whether the layout has the gate/up/down MLP ``mlp_units`` reads in every unit layer."""
    read = _names(lay)[0]
    prefix = "model.layers.{}." if lay.kind == "gated" else "h.{}."
    return all(lay.has(prefix.format(i) + read) for i in unit_layers(lay.n_layers))


def unit_parts(lay: Layout) -> tuple[str, ...]:
    """The layer tensors (``Layout.layer`` names) ``layer_units`` reads."""
    read, read2, write, _ = _names(lay)
    return tuple(n for n in (read, read2, write) if n)


def layer_units(
    lay: Layout, i: int, read: Mapping[str, F32] | None = None
) -> npt.NDArray[np.float64] | None:
    """Layer ``i``'s ``UNITS`` most important units as [units, 3 (gate, up, down), d],
    or ``None`` where the shapes do not line up. ``read`` holds matrices the caller has
    already read (``Layout.layer`` name -> the stored matrix, as ``row_chunks`` yields
    it, concatenated), so a layer is dequantized once for the anchors and the units."""
    r1, r2, w, norm = _names(lay)
    prefix = "model.layers.{}." if lay.kind == "gated" else "h.{}."
    have = read or {}

    def stored(name: str) -> F32:
        return have[name] if name in have else _as_f32(lay.layer(i, name))

    full_norm = prefix.format(i) + norm if norm else ""
    scale = lay.layer(i, norm).to_float32().reshape(-1) if norm and lay.has(full_norm) else None
    gate = _oriented(lay, stored(r1), reads=True)
    up = _oriented(lay, stored(r2), reads=True) if r2 and lay.has(prefix.format(i) + r2) else gate
    down = _oriented(lay, stored(w), reads=False)
    if down.shape != gate.shape or up.shape != gate.shape:
        return None
    if scale is not None and scale.shape[0] == gate.shape[1]:
        gate, up = gate * scale[None, :], up * scale[None, :]
    importance = (
        np.linalg.norm(gate, axis=1) * np.linalg.norm(up, axis=1) * np.linalg.norm(down, axis=1)
    )
    keep = np.sort(np.argsort(-importance, kind="stable")[:UNITS])
    picked = [m[keep].astype(np.float64) for m in (gate, up, down)]
    return np.stack(picked, axis=1)


def canonical_units(per_layer: Sequence[npt.NDArray[np.float64] | None]) -> F32 | None:
    """[layers, units, 3, rank] float32 from ``layer_units`` of each unit layer."""
    if not per_layer or any(v is None for v in per_layer):
        return None
    kept = [v for v in per_layer if v is not None]
    k = min(v.shape[0] for v in kept)
    vecs = np.stack([v[:k] for v in kept])  # [L, k, 3, d]
    return _canonical(vecs).astype(np.float32)


def mlp_units(lay: Layout) -> tuple[list[int], F32] | None:
    """(layer indices, [layers, units, 3, rank] float32) or ``None`` where the layout has
    no gate/up/down MLP (a mixture of experts has one: its experts side by side)."""
    if not has_units(lay):
        return None
    layers = unit_layers(lay.n_layers)
    out = canonical_units([layer_units(lay, i) for i in layers])
    return (layers, out) if out is not None else None


def _canonical(vecs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Express residual vectors in the basis of their (unit-length) second moment's
    eigenvectors, largest first, each sign chosen so the third moment is positive; keep
    ``RANK`` directions. Lengths are kept: they are part of what identifies a unit."""
    flat = vecs.reshape(-1, vecs.shape[-1])
    unit = _unit(flat)
    v = _top_eigenvectors(unit, RANK)
    sign = np.sign(((unit @ v) ** 3).sum(axis=0))
    coords = (flat @ v) * np.where(sign == 0, 1.0, sign)
    out: npt.NDArray[np.float64] = coords.reshape(*vecs.shape[:-1], coords.shape[-1])
    return out


def _top_eigenvectors(unit: npt.NDArray[np.float64], rank: int) -> npt.NDArray[np.float64]:
    """The ``rank`` leading eigenvectors of ``unitᵀ unit`` ([d, d]), largest first.

    With fewer vectors than dimensions (n < d: wide models, d = 8192 for a 70B) the
    same eigenvectors come from the n x n Gram ``unit unitᵀ = W Λ Wᵀ`` as
    ``unitᵀ W Λ^-1/2``: O(n³) instead of O(d³) (an 8192-wide eigh alone is minutes
    on two cores). Narrower models keep the direct route.
    """
    n, d = unit.shape
    if n >= d:
        _, v = np.linalg.eigh(unit.T @ unit)
        out: npt.NDArray[np.float64] = v[:, ::-1][:, :rank]
        return out
    lam, w = np.linalg.eigh(unit @ unit.T)
    lam, w = lam[::-1][:rank], w[:, ::-1][:, :rank]
    keep = lam > lam[0] * 1e-12 if lam.size else lam > 0
    v = (unit.T @ w[:, keep]) / np.sqrt(lam[keep])[None, :]
    # Directions beyond the vectors' span: their coordinates are zero, as they are
    # (to rounding) along the arbitrary null-space eigenvectors the direct route keeps.
    missing = min(d, rank) - v.shape[1]
    out = np.pad(v, ((0, 0), (0, missing))) if missing > 0 else v
    return out
