"""What changed in one weight matrix: the pure core of ``weightwatch diff``.

Given a base matrix B and a derivative D of the same shape (already aligned), the
difference Δ = D − B is classified by the structure each way of deriving a model leaves:

- ``unchanged``: Δ = 0.
- ``quantized``: every row of D lies on a symmetric integer grid (scale = row max / qmax)
  for some bit width 2–8: the round trip an int8/int4 quantize–dequantize leaves.
- ``projection``: Δ = −u uᵀ B (rows written to the residual stream) or −B u uᵀ (an
  embedding's columns): a rank-one *projection removal* along u — refusal-direction
  ablation ("abliteration") leaves exactly this. The direction u is reported.
- ``low_rank``: Δ has numerical rank r below min(m, n) (a spectral gap above the float32
  rounding floor): what a merged LoRA of rank r leaves.
- ``sparse``: fewer than 5% of entries changed.
- ``full``: a dense change of full rank: a full fine-tune.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.reports import Record

MatrixKind = Literal["unchanged", "quantized", "projection", "low_rank", "sparse", "full"]
Writes = Literal["rows", "columns", "none"]  # how the matrix writes to the residual stream

SPARSE_SHARE = 0.05
PROJECTION_FIT = 0.05  # relative residual of Δ against the best projection removal
_F32_EPS = float(np.finfo(np.float32).eps)


class MatrixDiff(Record):
    name: str
    shape: tuple[int, ...]
    kind: MatrixKind
    relative_change: float  # ‖Δ‖ / ‖B‖
    changed_share: float  # share of entries that differ
    rank: int | None = None  # numerical rank of Δ (2-D only)
    quant_bits: int | None = None
    projection_energy: float = 0.0  # share of ‖Δ‖² a projection removal along u explains
    # u, for residual-writing matrices (kept out of the JSON: one float per hidden unit)
    direction: tuple[float, ...] | None = Field(default=None, exclude=True)


def _on_grid(d: npt.NDArray[np.float64]) -> int | None:
    """The smallest bit width whose per-row symmetric grid holds every value of ``d``."""
    peak = np.abs(d).max(axis=1, keepdims=True)
    peak = np.where(peak > 0, peak, 1.0)
    for bits in range(2, 9):
        qmax = 2 ** (bits - 1) - 1
        scaled = d / (peak / qmax)
        if np.abs(scaled - np.round(scaled)).max() < 1e-3:
            return bits
    return None


def numerical_rank(
    delta: npt.NDArray[np.float64], scale: float
) -> tuple[int, npt.NDArray[np.float64]]:
    """Rank of ``delta`` above the float32 rounding floor of values of size ``scale``."""
    s = np.asarray(np.linalg.svd(delta, compute_uv=False), dtype=np.float64)
    m, n = delta.shape
    floor = 4.0 * _F32_EPS * scale * (np.sqrt(m) + np.sqrt(n))
    floor = max(floor, float(s[0]) * 1e-6) if s.size else floor
    return int(np.sum(s > floor)), s


def projection_fit(
    base: npt.NDArray[np.float64], delta: npt.NDArray[np.float64], writes: Writes
) -> tuple[float, npt.NDArray[np.float64] | None]:
    """Share of ‖Δ‖² explained by removing B's component along Δ's top direction, and it."""
    if writes == "none":
        return 0.0, None
    u_mat, _, vt = np.linalg.svd(delta, full_matrices=False)
    if writes == "rows":
        u = u_mat[:, 0]
        predicted = -np.outer(u, u @ base)
    else:
        u = vt[0]
        predicted = -np.outer(base @ u, u)
    total = float(np.sum(delta * delta))
    if total == 0.0:
        return 0.0, None
    residual = float(np.sum((delta - predicted) ** 2))
    return max(0.0, 1.0 - residual / total), u


def classify_matrix(
    name: str,
    base: npt.NDArray[np.floating],
    derivative: npt.NDArray[np.floating],
    *,
    writes: Writes = "none",
) -> MatrixDiff:
    """Classify how ``derivative`` differs from ``base`` (same shape, aligned)."""
    b = np.asarray(base, dtype=np.float64)
    d = np.asarray(derivative, dtype=np.float64)
    delta = d - b
    changed = float(np.mean(delta != 0)) if delta.size else 0.0
    norm_b = float(np.linalg.norm(b)) or 1.0
    rel = float(np.linalg.norm(delta)) / norm_b
    common = {
        "name": name,
        "shape": tuple(b.shape),
        "relative_change": rel,
        "changed_share": changed,
    }
    if changed == 0.0:
        return MatrixDiff(kind="unchanged", **common)
    if b.ndim != 2:
        kind: MatrixKind = "sparse" if changed < SPARSE_SHARE else "full"
        return MatrixDiff(kind=kind, **common)
    bits = _on_grid(d)
    if bits is not None and _on_grid(b) is None:
        return MatrixDiff(kind="quantized", quant_bits=bits, **common)
    scale = float(np.sqrt(np.mean(b * b))) + float(np.abs(b).max())
    rank, _ = numerical_rank(delta, scale)
    energy, u = projection_fit(b, delta, writes)
    direction = tuple(float(x) for x in u) if u is not None else None
    common.update(rank=rank, projection_energy=energy, direction=direction)
    if rank == 1 and energy >= 1.0 - PROJECTION_FIT:
        return MatrixDiff(kind="projection", **common)
    if rank < min(b.shape):
        return MatrixDiff(kind="low_rank", **common)
    if changed < SPARSE_SHARE:
        return MatrixDiff(kind="sparse", **common)
    return MatrixDiff(kind="full", **common)
