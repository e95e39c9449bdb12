"""Exactness of the null tails against brute-force rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from weightwatch.watermark import BinomialNull, GammaNull
from weightwatch.watermark.nulls import z_score


def _binom_tail_exact(g: int, n: int, gamma: Fraction) -> Fraction:
    return sum(
        (
            Fraction(math.comb(n, k)) * gamma**k * (1 - gamma) ** (n - k)
            for k in range(max(g, 0), n + 1)
        ),
        Fraction(0),
    )


def _log10_fraction(x: Fraction) -> float:
    return (math.log10(x.numerator) if x.numerator else -math.inf) - math.log10(x.denominator)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 120),
    g=st.integers(-3, 125),
    gamma=st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(1, 10), Fraction(255, 1024)]),
)
def test_binomial_tail_matches_comb_sum(n: int, g: int, gamma: Fraction) -> None:
    exact = _binom_tail_exact(g, n, gamma)
    got = float(BinomialNull(float(gamma)).sf(g, n))
    assert math.isclose(got, float(exact), rel_tol=1e-10, abs_tol=1e-300)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(600, 1500), frac=st.floats(0.6, 1.0))
def test_binomial_log10_tail_where_p_underflows(n: int, frac: float) -> None:
    g = math.ceil(n * frac)
    exact = _binom_tail_exact(g, n, Fraction(1, 4))
    got = BinomialNull(0.25).log10_sf(g, n)
    assert math.isfinite(got)
    assert math.isclose(got, _log10_fraction(exact), rel_tol=1e-9)


def test_binomial_vectorised_and_edges() -> None:
    null = BinomialNull(0.25)
    p = null.sf(np.array([0, 1, 5, 11, 12]), np.array([10, 10, 10, 10, 10]))
    assert p[0] == 1.0 and p[-1] == 0.0 and p[-2] == 0.0
    assert p[1] == 1 - 0.75**10
    assert np.all(np.diff(p) <= 0)
    assert null.log10_sf(0, 10) == 0.0


def _erlang_tail_exact(s: float, n: int) -> float:
    # P(Gamma(n, 1) >= s) = e^-s * sum_{k<n} s^k / k!
    return math.exp(-s) * math.fsum(s**k / math.factorial(k) for k in range(n))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), s=st.floats(0.0, 150.0))
def test_gamma_tail_matches_erlang_sum(n: int, s: float) -> None:
    assert math.isclose(
        float(GammaNull().sf(s, n)), _erlang_tail_exact(s, n), rel_tol=1e-9, abs_tol=1e-300
    )


def test_gamma_log10_tail_where_p_underflows() -> None:
    null = GammaNull()
    for n, s in [(50, 900.0), (200, 1500.0), (1000, 4000.0)]:
        assert float(null.sf(s, n)) < 1e-250
        # exact log-space reference with Python floats: terms via lgamma
        terms = [-s + k * math.log(s) - math.lgamma(k + 1) for k in range(n)]
        top = max(terms)
        ref = (top + math.log(math.fsum(math.exp(t - top) for t in terms))) / math.log(10)
        assert math.isclose(null.log10_sf(s, n), ref, rel_tol=1e-10)


def test_z_scores() -> None:
    assert z_score(BinomialNull(0.25), 25.0, 100) == 0.0
    assert math.isclose(z_score(BinomialNull(0.25), 40.0, 100), 15 / math.sqrt(18.75))
    assert math.isclose(z_score(GammaNull(), 110.0, 100), 1.0)
    assert z_score(GammaNull(), 0.0, 0) == 0.0
