"""The many-shot curve: the fit recovers a known law; 50% points; no fit where none exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from weightwatch.audit.curve import many_shot_curve
from weightwatch.errors import UsageError

KS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def law(a: float, b: float, k: float) -> float:
    return 1 - math.exp(-a * k**b)


def test_recovers_a_known_law_from_expected_counts() -> None:
    a, b, n = 0.01, 0.9, 100_000
    counts = [(k, round(n * law(a, b, k)), n) for k in KS]
    curve = many_shot_curve(counts)
    assert curve.fit is not None
    assert curve.fit.a == pytest.approx(a, rel=0.01)
    assert curve.fit.exponent == pytest.approx(b, rel=0.01)
    expected_k50 = (math.log(2) / a) ** (1 / b)
    assert curve.fit.k50 == pytest.approx(expected_k50, rel=0.02)
    assert not curve.fit.k50_extrapolated
    assert curve.k50_interpolated == pytest.approx(expected_k50, rel=0.1)
    assert curve.fit.predict(64) == pytest.approx(law(a, b, 64), abs=0.002)


def test_fit_is_the_maximum_likelihood_estimate() -> None:
    """Cross-check IRLS against a direct numerical maximisation of the binomial likelihood."""
    rng = np.random.default_rng(5)
    n = 60
    counts = [(k, int(rng.binomial(n, law(0.03, 0.7, k))), n) for k in KS]
    curve = many_shot_curve(counts)
    assert curve.fit is not None
    k = np.array(KS, dtype=float)
    y = np.array([c[1] for c in counts], dtype=float)

    def nll(beta: np.ndarray) -> float:
        p = np.clip(-np.expm1(-np.exp(beta[0] + beta[1] * np.log(k))), 1e-12, 1 - 1e-12)
        return float(-(y * np.log(p) + (n - y) * np.log1p(-p)).sum())

    best = minimize(
        nll,
        x0=np.array([-3.0, 0.5]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000},
    )
    assert math.log(curve.fit.a) == pytest.approx(best.x[0], abs=1e-4)
    assert curve.fit.exponent == pytest.approx(best.x[1], abs=1e-4)
    assert curve.fit.exponent_se > 0


def test_zero_and_full_points_are_used_not_dropped() -> None:
    counts = [(1, 0, 50), (4, 2, 50), (16, 14, 50), (64, 41, 50), (256, 50, 50)]
    curve = many_shot_curve(counts)
    assert curve.fit is not None and curve.fit.exponent > 0
    assert curve.points[0].asr.interval.high > 0  # 0/50 still has a Wilson upper bound
    assert 16 < (curve.k50_interpolated or 0) < 64


def test_k50_interpolation_in_log_k() -> None:
    curve = many_shot_curve([(4, 20, 100), (16, 60, 100)])
    # 0.2 at log 4, 0.6 at log 16: 0.5 is 3/4 of the way -> exp(log 4 + 0.75 log 4) = 4^1.75
    assert curve.k50_interpolated == pytest.approx(4**1.75)
    assert many_shot_curve([(1, 60, 100), (2, 70, 100)]).k50_interpolated == 1.0


def test_never_reaching_half_gives_none_and_an_extrapolated_fit() -> None:
    counts = [(k, round(1000 * law(0.001, 0.5, k)), 1000) for k in KS]
    curve = many_shot_curve(counts)
    assert curve.k50_interpolated is None
    assert curve.fit is not None and curve.fit.k50 is not None and curve.fit.k50_extrapolated


@pytest.mark.parametrize(
    "counts",
    [
        [(1, 0, 20), (8, 0, 20), (64, 0, 20)],
        [(1, 20, 20), (8, 20, 20)],
        [(8, 3, 20)],
        [(1, 0, 20), (8, 0, 20), (16, 20, 20), (64, 20, 20)],
    ],
)
def test_no_fit_where_no_finite_mle_exists(counts: list[tuple[int, int, int]]) -> None:
    curve = many_shot_curve(counts)
    assert curve.fit is None and curve.note


def test_flat_or_falling_curves_have_no_fitted_k50() -> None:
    curve = many_shot_curve([(1, 30, 100), (4, 20, 100), (16, 10, 100)])
    assert curve.fit is not None and curve.fit.exponent < 0 and curve.fit.k50 is None


@pytest.mark.parametrize("counts", [[], [(0, 1, 2)], [(4, 1, 2), (4, 1, 2)]])
def test_bad_input(counts: list[tuple[int, int, int]]) -> None:
    with pytest.raises(UsageError):
        many_shot_curve(counts)


def test_curve_json_round_trip() -> None:
    curve = many_shot_curve([(1, 2, 50), (8, 10, 50), (64, 30, 50)])
    assert type(curve).model_validate_json(curve.model_dump_json()) == curve
