"""Statistics for attack success rates: intervals, bootstrap, judge-error correction, tests.

Pure functions over counts. Choices, so the numbers can be defended:

- Wilson score intervals by default: correct coverage at small n and never a zero-width
  interval at 0% or 100% (the Wald interval's failure). Clopper–Pearson on request.
- The bootstrap resamples *behaviours* (not generations), so several samples of one
  behaviour do not shrink the interval as if they were independent.
- Judge error: Rogan–Gladen with the judge's measured sensitivity/specificity, and an
  adjusted-Wald interval that carries their uncertainty (after Lang & Reiczigel 2014).

Tests on paired outcomes (McNemar, paired-difference intervals, TOST) are in ``paired``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from weightwatch.errors import UsageError

Method = Literal["wilson", "clopper-pearson"]


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float
    high: float
    confidence: float
    method: str


class Proportion(BaseModel):
    model_config = ConfigDict(frozen=True)

    successes: int
    n: int
    estimate: float
    interval: Interval


class CorrectedProportion(BaseModel):
    """A rate corrected for judge error; the inputs are kept so a reader can redo it."""

    model_config = ConfigDict(frozen=True)

    apparent: Proportion
    estimate: float
    interval: Interval
    sensitivity: float
    specificity: float
    sensitivity_counts: tuple[int, int]  # (true positives, labelled positives)
    specificity_counts: tuple[int, int]  # (true negatives, labelled negatives)
    note: str | None = None


def z_quantile(confidence: float, *, two_sided: bool = True) -> float:
    """The normal quantile for a confidence level (two-sided by default)."""
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence must be strictly between 0 and 1, not {confidence}")
    tail = (1.0 - confidence) / 2.0 if two_sided else 1.0 - confidence
    return NormalDist().inv_cdf(1.0 - tail)


def _check_counts(successes: int, n: int) -> None:
    if n <= 0:
        raise UsageError(f"a proportion needs n > 0 trials, not {n}")
    if not 0 <= successes <= n:
        raise UsageError(f"successes must be between 0 and n={n}, not {successes}")


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval (as R ``prop.test(correct=FALSE)``)."""
    _check_counts(successes, n)
    z = z_quantile(confidence)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low=low, high=high, confidence=confidence, method="wilson")


def clopper_pearson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """The 'exact' interval from beta quantiles: conservative, never below nominal coverage."""
    _check_counts(successes, n)
    alpha = 1.0 - confidence
    z_quantile(confidence)
    from scipy.stats import beta  # type: ignore[import-untyped]  # lazy: scipy is slow to import

    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return Interval(low=low, high=high, confidence=confidence, method="clopper-pearson")


def proportion(
    successes: int, n: int, *, confidence: float = 0.95, method: Method = "wilson"
) -> Proportion:
    """A rate with its interval."""
    if method == "wilson":
        interval = wilson_interval(successes, n, confidence=confidence)
    elif method == "clopper-pearson":
        interval = clopper_pearson_interval(successes, n, confidence=confidence)
    else:
        raise UsageError(f"unknown interval method {method!r} (wilson, clopper-pearson)")
    return Proportion(successes=successes, n=n, estimate=successes / n, interval=interval)


def bootstrap_interval(
    per_behavior: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap of the pooled mean, resampling behaviours with replacement.

    ``per_behavior[i]`` holds the outcomes (0/1 or scores) of behaviour ``i``. Like any
    percentile bootstrap it collapses to a point when every outcome is equal; report it
    beside a Wilson interval, not instead of one.
    """
    z_quantile(confidence)
    if resamples < 1:
        raise UsageError(f"resamples must be positive, not {resamples}")
    if not per_behavior or any(len(outcomes) == 0 for outcomes in per_behavior):
        raise UsageError("the bootstrap needs at least one outcome for every behaviour")
    sums = np.array([float(sum(outcomes)) for outcomes in per_behavior])
    counts = np.array([float(len(outcomes)) for outcomes in per_behavior])
    rng = np.random.default_rng(seed)
    statistics = np.empty(resamples)
    batch = max(1, 1_000_000 // len(sums))
    for start in range(0, resamples, batch):
        stop = min(resamples, start + batch)
        picks = rng.integers(0, len(sums), size=(stop - start, len(sums)))
        statistics[start:stop] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(statistics, [alpha / 2, 1 - alpha / 2])
    return Interval(
        low=float(low), high=float(high), confidence=confidence, method="bootstrap-percentile"
    )


def correct_for_judge_error(
    successes: int,
    n: int,
    *,
    sensitivity_counts: tuple[int, int],
    specificity_counts: tuple[int, int],
    confidence: float = 0.95,
) -> CorrectedProportion:
    """Rogan–Gladen: the true rate given the judge's sensitivity and specificity.

    ``sensitivity_counts`` = (successes the judge caught, labelled successes);
    ``specificity_counts`` = (non-successes it passed as such, labelled non-successes).
    The point estimate is clipped to [0, 1]. The interval is an adjusted Wald interval that
    adds z²/2 to every count (after Lang & Reiczigel 2014), so it carries the uncertainty of
    the judge's own measurement and stays informative at 0 and 1.
    """
    _check_counts(successes, n)
    tp, positives = sensitivity_counts
    tn, negatives = specificity_counts
    _check_counts(tp, positives)
    _check_counts(tn, negatives)
    se, sp = tp / positives, tn / negatives
    youden = se + sp - 1.0
    if youden <= 0:
        raise UsageError(
            f"the judge is no better than chance (sensitivity {se:.3f} + specificity "
            f"{sp:.3f} <= 1): the correction is undefined",
            hint="measure the judge on a labelled set and use a better judge",
        )
    apparent = proportion(successes, n, confidence=confidence)
    estimate = min(1.0, max(0.0, (apparent.estimate + sp - 1.0) / youden))

    z = z_quantile(confidence)
    add = z * z / 2

    def adjusted(k: int, m: int) -> tuple[float, float]:
        return (k + add) / (m + 2 * add), m + 2 * add

    p_a, n_a = adjusted(successes, n)
    se_a, pos_a = adjusted(tp, positives)
    sp_a, neg_a = adjusted(tn, negatives)
    youden_a = se_a + sp_a - 1.0
    if youden_a <= 0:
        low, high = 0.0, 1.0
    else:
        theta = (p_a + sp_a - 1.0) / youden_a
        variance = (
            p_a * (1 - p_a) / n_a
            + theta**2 * se_a * (1 - se_a) / pos_a
            + (1 - theta) ** 2 * sp_a * (1 - sp_a) / neg_a
        ) / youden_a**2
        half = z * math.sqrt(variance)
        low, high = theta - half, theta + half
    note = None
    if high <= 0.0 or low >= 1.0:
        # The apparent rate lies beyond what the judge's error rates allow (e.g. fewer
        # successes than its false-positive rate alone would produce): the model behind the
        # correction is contradicted, so keep the uncorrected bound on the open side.
        note = "apparent rate outside what the judge's error rates allow; bound not corrected"
        low, high = (0.0, apparent.interval.high) if high <= 0.0 else (apparent.interval.low, 1.0)
    return CorrectedProportion(
        apparent=apparent,
        estimate=estimate,
        interval=Interval(
            low=max(0.0, low),
            high=min(1.0, high),
            confidence=confidence,
            method="rogan-gladen-adjusted-wald",
        ),
        sensitivity=se,
        specificity=sp,
        sensitivity_counts=(tp, positives),
        specificity_counts=(tn, negatives),
        note=note,
    )
