"""Intervals and tests against published values and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from weightwatch.audit.paired import (
    binomial_upper_tail,
    mcnemar_exact,
    mcnemar_sample_size,
    newcombe_paired_interval,
    paired_difference_interval,
    tango_paired_interval,
    tost_p_value,
    tost_sample_size,
)
from weightwatch.audit.stats import (
    bootstrap_interval,
    clopper_pearson_interval,
    correct_for_judge_error,
    proportion,
    wilson_interval,
)
from weightwatch.errors import UsageError

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table II:
# method 3 (Wilson score, no continuity correction) and method 5 (Clopper-Pearson).
NEWCOMBE_1998 = [
    ((81, 263), (0.2553, 0.3662), (0.2527, 0.3676)),
    ((15, 148), (0.0624, 0.1605), (0.0578, 0.1617)),
    ((0, 20), (0.0, 0.1611), (0.0, 0.1684)),
    ((1, 29), (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("counts", "wilson", "exact"), NEWCOMBE_1998)
def test_published_single_proportion_intervals(
    counts: tuple[int, int], wilson: tuple[float, float], exact: tuple[float, float]
) -> None:
    w = wilson_interval(*counts)
    c = clopper_pearson_interval(*counts)
    assert (round(w.low, 4), round(w.high, 4)) == wilson
    assert (round(c.low, 4), round(c.high, 4)) == exact


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_and_exact_match_scipy(counts: tuple[int, int]) -> None:
    x, n = counts
    reference = binomtest(x, n)
    for ours, method in [
        (wilson_interval(x, n), "wilson"),
        (clopper_pearson_interval(x, n), "exact"),
    ]:
        theirs = reference.proportion_ci(confidence_level=0.95, method=method)
        assert ours.low == pytest.approx(theirs.low, abs=1e-9)
        assert ours.high == pytest.approx(theirs.high, abs=1e-9)


@pytest.mark.parametrize("n", [1, 5, 20, 100, 1000])
def test_no_collapse_at_zero_and_one_hundred_percent(n: int) -> None:
    z2 = 1.959963984540054**2
    zero, full = wilson_interval(0, n), wilson_interval(n, n)
    assert zero.low == 0.0 and zero.high == pytest.approx(z2 / (n + z2))
    assert full.high == 1.0 and full.low == pytest.approx(n / (n + z2))
    assert zero.high > 0 and full.low < 1
    exact = clopper_pearson_interval(0, n)
    assert exact.high == pytest.approx(1 - 0.025 ** (1 / n))


@pytest.mark.parametrize(("x", "n"), [(0, 0), (-1, 5), (6, 5)])
def test_bad_counts(x: int, n: int) -> None:
    with pytest.raises(UsageError):
        wilson_interval(x, n)


def test_proportion_methods() -> None:
    p = proportion(3, 10, method="clopper-pearson", confidence=0.9)
    assert p.estimate == 0.3 and p.interval.method == "clopper-pearson"
    assert p.interval.confidence == 0.9
    with pytest.raises(UsageError):
        proportion(3, 10, method="wald")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        proportion(3, 10, confidence=1.0)


# --- exact McNemar
@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [(5, 0, 1 / 32), (3, 1, 5 / 16), (0, 0, 1.0), (0, 4, 1.0), (2, 2, 11 / 16)],
)
def test_mcnemar_hand_computed(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    if b + c == 0:
        assert mcnemar_exact(b, c) == 1.0
        return
    expected = binomtest(b, b + c, 0.5, alternative="greater").pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_binomial_tail_edges() -> None:
    assert binomial_upper_tail(0, 10) == 1.0
    assert binomial_upper_tail(11, 10) == 0.0
    assert binomial_upper_tail(10, 10) == pytest.approx(2**-10)


# --- paired difference and TOST
def test_newcombe_paired_published_value() -> None:
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012) table [[59, 6], [16, 80]]:
    # Newcombe square-and-add estimate -0.0621, 95% CI -0.1186 to -0.0046.
    ci = newcombe_paired_interval(59, 6, 16, 80)
    assert (round(ci.low, 4), round(ci.high, 4)) == (-0.1186, -0.0046)


def test_newcombe_paired_symmetry_and_bounds() -> None:
    forward = newcombe_paired_interval(59, 6, 16, 80)
    backward = newcombe_paired_interval(59, 16, 6, 80)
    assert backward.low == pytest.approx(-forward.high) and backward.high == pytest.approx(
        -forward.low
    )
    extreme = newcombe_paired_interval(0, 20, 0, 0)
    assert -1.0 <= extreme.low < 1.0 and extreme.high == pytest.approx(1.0)
    none = newcombe_paired_interval(10, 0, 0, 10)
    assert none.low < 0 < none.high  # no discordance still leaves an honest interval


def test_tost_worked_example() -> None:
    """TOST at alpha = 0.025 uses the 95% interval above: (-0.1186, -0.0046)."""
    m = "newcombe"
    assert tost_p_value(59, 6, 16, 80, margin=0.12, method=m) < 0.025  # -0.1186 > -0.12
    assert tost_p_value(59, 6, 16, 80, margin=0.118, method=m) > 0.025  # -0.1186 < -0.118
    # The p-value is the alpha at which the (1 - 2 alpha) interval touches the margin.
    for method in ("newcombe", "tango"):
        p = tost_p_value(59, 6, 16, 80, margin=0.15, method=method)  # type: ignore[arg-type]
        touching = paired_difference_interval(
            59,
            6,
            16,
            80,
            confidence=1 - 2 * p,
            method=method,  # type: ignore[arg-type]
        )
        assert touching.low == pytest.approx(-0.15, abs=1e-6)
    assert tost_p_value(0, 50, 0, 50, margin=0.1) == 1.0


def test_tango_inverts_its_score_test() -> None:
    from weightwatch.audit.paired import _tango_statistic

    ci = tango_paired_interval(59, 6, 16, 80)
    z = 1.959963984540054
    assert _tango_statistic(ci.low, 6, 16, 161) == pytest.approx(z, abs=1e-6)
    assert _tango_statistic(ci.high, 6, 16, 161) == pytest.approx(-z, abs=1e-6)
    assert ci.low < -10 / 161 < ci.high


@pytest.mark.parametrize("n", [10, 20, 100, 1000])
def test_tango_without_discordance_is_the_wilson_bound(n: int) -> None:
    """No discordant pair: half-width z^2/(n + z^2), the Wilson upper bound for 0/n."""
    ci = tango_paired_interval(n // 2, 0, 0, n - n // 2, confidence=0.9)
    bound = wilson_interval(0, n, confidence=0.9).high
    assert ci.low == pytest.approx(-bound, abs=1e-9) and ci.high == pytest.approx(bound, abs=1e-9)
    newcombe = newcombe_paired_interval(n // 2, 0, 0, n - n // 2, confidence=0.9)
    assert newcombe.high < ci.high  # Newcombe is narrower than the data justify here


def test_tango_coverage_by_simulation() -> None:
    rng = np.random.default_rng(11)
    n, probs = 60, [0.5, 0.12, 0.05, 0.33]  # true difference 0.07
    truth = probs[1] - probs[2]
    draws = rng.multinomial(n, probs, size=800)
    covered = [(ci := tango_paired_interval(*map(int, d))).low <= truth <= ci.high for d in draws]
    assert 0.93 <= float(np.mean(covered)) <= 0.975


def test_paired_method_names() -> None:
    with pytest.raises(UsageError):
        paired_difference_interval(1, 2, 3, 4, method="wald")  # type: ignore[arg-type]


# --- sample sizes
def test_mcnemar_sample_size_connor_formula() -> None:
    # psi = 0.2, delta = 0.1, one-sided alpha 0.05, power 0.8:
    # (1.6449*sqrt(0.2) + 0.8416*sqrt(0.19))^2 / 0.01 = 121.5 -> 122.
    assert mcnemar_sample_size(0.2, 0.1) == 122
    assert mcnemar_sample_size(0.2, 0.0) is None
    assert mcnemar_sample_size(0.01, 0.2) is None


def test_mcnemar_sample_size_gives_the_promised_power() -> None:
    """Simulate exact McNemar at the computed n: power should be close to 0.8."""
    rng = np.random.default_rng(0)
    n = mcnemar_sample_size(0.2, 0.1)
    assert n is not None
    p_b, p_c = 0.15, 0.05  # discordance 0.2, difference 0.1
    draws = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c], size=1500)
    power = float(np.mean([mcnemar_exact(int(b), int(c)) < 0.05 for b, c, _ in draws]))
    assert 0.7 <= power <= 0.9


def test_tost_sample_size() -> None:
    # psi = 0.1, no true difference, margin 0.1: (1.6449 + 1.2816)^2 * 0.1 / 0.01 = 85.6 -> 86.
    assert tost_sample_size(0.1, 0.0, margin=0.1) == 86
    assert tost_sample_size(0.1, 0.1, margin=0.1) is None
    assert tost_sample_size(0.1, 0.05, margin=0.1) > 86


# --- bootstrap
def test_bootstrap_is_seeded_and_close_to_wald_for_independent_outcomes() -> None:
    outcomes = [[1.0]] * 300 + [[0.0]] * 700
    one = bootstrap_interval(outcomes, seed=1)
    assert one == bootstrap_interval(outcomes, seed=1)
    half = 1.96 * math.sqrt(0.3 * 0.7 / 1000)
    assert one.low == pytest.approx(0.3 - half, abs=0.01)
    assert one.high == pytest.approx(0.3 + half, abs=0.01)


def test_bootstrap_resamples_behaviours_not_samples() -> None:
    """Ten identical samples per behaviour carry no more information than one."""
    single = bootstrap_interval([[1.0]] * 30 + [[0.0]] * 70, seed=0)
    repeated = bootstrap_interval([[1.0] * 10] * 30 + [[0.0] * 10] * 70, seed=0)
    assert repeated.high - repeated.low == pytest.approx(single.high - single.low, rel=0.1)


def test_bootstrap_rejects_empty() -> None:
    with pytest.raises(UsageError):
        bootstrap_interval([])
    with pytest.raises(UsageError):
        bootstrap_interval([[1.0], []])


# --- judge-error correction
def test_rogan_gladen_hand_value() -> None:
    # apparent 0.3, sensitivity 0.9, specificity 0.8: (0.3 + 0.8 - 1) / 0.7 = 0.142857...
    corrected = correct_for_judge_error(
        30, 100, sensitivity_counts=(90, 100), specificity_counts=(80, 100)
    )
    assert corrected.estimate == pytest.approx(0.1 / 0.7)
    assert corrected.interval.low < corrected.estimate < corrected.interval.high


def test_rogan_gladen_perfect_judge_and_clipping() -> None:
    perfect = correct_for_judge_error(
        30, 100, sensitivity_counts=(500, 500), specificity_counts=(500, 500)
    )
    assert perfect.estimate == pytest.approx(0.3)
    clipped = correct_for_judge_error(
        5, 100, sensitivity_counts=(90, 100), specificity_counts=(80, 100)
    )
    assert clipped.estimate == 0.0 and clipped.interval.low == 0.0
    assert clipped.interval.high == pytest.approx(clipped.apparent.interval.high)
    assert clipped.note is not None
    inside = correct_for_judge_error(
        25, 100, sensitivity_counts=(90, 100), specificity_counts=(80, 100)
    )
    assert inside.note is None and 0.0 <= inside.interval.low < inside.interval.high <= 1.0
    with pytest.raises(UsageError, match="chance"):
        correct_for_judge_error(5, 100, sensitivity_counts=(50, 100), specificity_counts=(50, 100))


def test_rogan_gladen_interval_coverage() -> None:
    """Simulated coverage of the corrected interval, judge uncertainty included."""
    rng = np.random.default_rng(42)
    truth, se, sp, n, m = 0.3, 0.85, 0.9, 200, 60
    covered = 0
    trials = 600
    for _ in range(trials):
        successes = int(rng.binomial(n, truth * se + (1 - truth) * (1 - sp)))
        tp, tn = int(rng.binomial(m, se)), int(rng.binomial(m, sp))
        if tp + tn - m <= 0:
            continue
        ci = correct_for_judge_error(
            successes, n, sensitivity_counts=(tp, m), specificity_counts=(tn, m)
        ).interval
        covered += ci.low <= truth <= ci.high
    assert covered / trials >= 0.92


@pytest.mark.parametrize("n", [40, 200])
def test_tost_type_one_error_at_the_margin(n: int) -> None:
    """When the true difference sits on the margin, TOST may claim equivalence <= ~alpha."""
    rng = np.random.default_rng(n)
    probs = [0.45, 0.05, 0.15, 0.35]  # p1 - p2 = 0.05 - 0.15 = -0.10: exactly the margin
    draws = rng.multinomial(n, probs, size=1000)
    claims = [
        (ci := tango_paired_interval(*map(int, d), confidence=0.9)).low > -0.1 and ci.high < 0.1
        for d in draws
    ]
    assert float(np.mean(claims)) <= 0.07
