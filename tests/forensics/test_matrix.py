"""Per-matrix classification on constructed differences (fast, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from weightwatch.forensics import classify_matrix, diff_tensors

RNG = np.random.default_rng(0)
B = RNG.normal(size=(64, 48)).astype(np.float32).astype(np.float64)


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32).astype(np.float64)  # stored weights are float32


def test_unchanged_and_sparse() -> None:
    assert classify_matrix("w", B, B).kind == "unchanged"
    d = B.copy()
    d[3, 4] += 0.5
    d[10, 1] -= 0.2
    m = classify_matrix("w", B, d)
    assert m.kind == "low_rank" and m.rank == 2  # two entries: rank 2 reads before sparse
    full = B.copy()
    full[np.arange(48), np.arange(48)] += 0.5  # full rank, 1.6% of the entries: sparse
    assert classify_matrix("w", B, full).kind == "sparse"


@pytest.mark.parametrize("rank", [1, 3, 16, 40])
def test_low_rank(rank: int) -> None:
    a, b = RNG.normal(size=(64, rank)) * 0.01, RNG.normal(size=(rank, 48)) * 0.01
    m = classify_matrix("q_proj.weight", B, _f32(B + a @ b))
    assert m.kind == "low_rank" and m.rank == rank


def test_full_change() -> None:
    m = classify_matrix("w", B, _f32(B + RNG.normal(size=B.shape) * 1e-3))
    assert m.kind == "full" and m.rank == 48


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized(bits: int) -> None:
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(B).max(axis=1, keepdims=True) / qmax
    m = classify_matrix("w", B, _f32(np.round(B / scale) * scale))
    assert m.kind == "quantized" and m.quant_bits == bits


def test_projection_removal_rows_and_columns() -> None:
    u = RNG.normal(size=64)
    u /= np.linalg.norm(u)
    rows = classify_matrix("o_proj.weight", B, _f32(B - np.outer(u, u @ B)), writes="rows")
    assert rows.kind == "projection" and rows.direction is not None
    assert abs(float(np.asarray(rows.direction) @ u)) > 0.999
    v = RNG.normal(size=48)
    v /= np.linalg.norm(v)
    cols = classify_matrix("embed_tokens.weight", B, _f32(B - np.outer(B @ v, v)), writes="columns")
    assert cols.kind == "projection"
    # A rank-one change that is not a projection removal (a rank-1 LoRA) is low-rank.
    lora = classify_matrix("o_proj.weight", B, _f32(B + 0.01 * np.outer(u, v)), writes="rows")
    assert lora.kind == "low_rank" and lora.projection_energy < 0.5


def test_model_level_needs_a_shared_direction() -> None:
    u = RNG.normal(size=64)
    u /= np.linalg.norm(u)
    names = [f"model.layers.{i}.self_attn.o_proj.weight" for i in range(3)]
    base = {n: RNG.normal(size=(64, 48)) for n in names}
    shared = {n: _f32(w - np.outer(u, u @ w)) for n, w in base.items()}
    report = diff_tensors(base, shared)
    assert report.derivation == "abliterated" and report.abliteration_score > 0.99
    own = {}
    for n, w in base.items():  # a different direction in every layer: no shared direction
        r = RNG.normal(size=64)
        r /= np.linalg.norm(r)
        own[n] = _f32(w - np.outer(r, r @ w))
    assert diff_tensors(base, own).derivation != "abliterated"
