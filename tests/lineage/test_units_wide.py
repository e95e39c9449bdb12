"""Canonical unit bases: the n x n Gram route (wide models) gives the direct route's
coordinates, so a 70B-wide model is not an 8192-wide eigendecomposition."""

from __future__ import annotations

import numpy as np

from weightwatch.fingerprint.units import _top_eigenvectors


def test_small_gram_route_matches_direct_route() -> None:
    rng = np.random.default_rng(0)
    n, d, rank = 40, 96, 32
    # a spectrum with gaps, so each eigenvector is defined up to its sign
    basis = np.linalg.qr(rng.standard_normal((d, n)))[0]
    unit = (rng.standard_normal((n, n)) * np.linspace(3, 0.2, n)) @ basis.T
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    wide = _top_eigenvectors(unit, rank)  # n < d: small Gram
    _, v = np.linalg.eigh(unit.T @ unit)
    direct = v[:, ::-1][:, :rank]
    assert wide.shape == direct.shape == (d, rank)
    same = np.abs(np.sum(wide * direct, axis=0))  # |cos| per eigenvector
    assert np.allclose(same, 1.0, atol=1e-6)
    assert np.allclose(np.abs(unit @ wide), np.abs(unit @ direct), atol=1e-8)


def test_rank_beyond_span_is_zero_padded() -> None:
    rng = np.random.default_rng(1)
    unit = rng.standard_normal((10, 50))
    out = _top_eigenvectors(unit, 32)
    assert out.shape == (50, 32)
    assert np.allclose(out[:, 10:], 0.0)
    assert np.allclose(out[:, :10].T @ out[:, :10], np.eye(10), atol=1e-8)
