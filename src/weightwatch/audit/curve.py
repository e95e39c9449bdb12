"""The many-shot curve: attack success against the number of shots k, and a fitted law.

Model: ASR(k) = 1 - exp(-a · k^b), fitted by maximum likelihood as a binomial GLM with a
complementary log-log link on log k, i.e. log(-log(1 - ASR)) = log a + b · log k.
Why this form: it stays in [0, 1]; for small ASR it is the power law ASR ≈ a · k^b that
Anil et al. (2024) report for many-shot jailbreaking, with b the exponent; and as a
likelihood fit it uses the 0% and 100% points that a log-log regression has to drop.
The 50% point is given twice: interpolated between measured k (None if never reached), and
from the fit (flagged when it extrapolates beyond the measured k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from weightwatch.audit.stats import Proportion, proportion
from weightwatch.errors import UsageError
from weightwatch.reports import Record, Report

_MAX_ITERATIONS = 100
_DIVERGED = 50.0  # |coefficient| beyond this means the MLE does not exist (separation)


class ShotPoint(Record):
    k: int
    asr: Proportion


class PowerLawFit(Record):
    """ASR(k) = 1 - exp(-a · k^b); ``exponent_se`` from the Fisher information."""

    a: float
    exponent: float
    exponent_se: float
    k50: float | None  # shots for 50% success under the fit; None if the fit never gets there
    k50_extrapolated: bool

    def predict(self, k: float) -> float:
        return 1.0 - math.exp(-self.a * k**self.exponent)


class ManyShotCurve(Report):
    points: tuple[ShotPoint, ...]
    fit: PowerLawFit | None  # None when every point is 0% or every point is 100%, etc.
    k50_interpolated: float | None  # None if the measured ASR never reaches 50%
    note: str | None = None


def many_shot_curve(
    counts: Sequence[tuple[int, int, int]], *, confidence: float = 0.95
) -> ManyShotCurve:
    """Build the curve from ``(k, successes, n)`` triples (one per measured k)."""
    if not counts:
        raise UsageError("the many-shot curve needs at least one measured k")
    ordered = sorted(counts)
    ks = [k for k, _, _ in ordered]
    if len(set(ks)) != len(ks) or ks[0] < 1:
        raise UsageError("each k must be a distinct positive number of shots")
    points = tuple(
        ShotPoint(k=k, asr=proportion(s, n, confidence=confidence)) for k, s, n in ordered
    )
    fit, note = _fit(ordered)
    return ManyShotCurve(
        points=points, fit=fit, k50_interpolated=_interpolate_k50(points), note=note
    )


def _interpolate_k50(points: Sequence[ShotPoint]) -> float | None:
    """First crossing of 50%, linear in log k between the measured points around it."""
    previous: ShotPoint | None = None
    for point in points:
        if point.asr.estimate >= 0.5:
            if previous is None:
                return float(point.k)  # already at or above 50% at the smallest k measured
            p0, p1 = previous.asr.estimate, point.asr.estimate
            x0, x1 = math.log(previous.k), math.log(point.k)
            return math.exp(x0 + (0.5 - p0) / (p1 - p0) * (x1 - x0))
        previous = point
    return None


def _fit(counts: Sequence[tuple[int, int, int]]) -> tuple[PowerLawFit | None, str | None]:
    k = np.array([c[0] for c in counts], dtype=float)
    y = np.array([c[1] for c in counts], dtype=float)
    n = np.array([c[2] for c in counts], dtype=float)
    if len(k) < 2:
        return None, "a fit needs at least two values of k"
    if y.sum() == 0 or (y == n).all():
        return None, "every point is 0% or every point is 100%: no finite fit exists"
    x = np.column_stack([np.ones_like(k), np.log(k)])
    p0 = np.clip((y + 0.5) / (n + 1.0), 1e-6, 1 - 1e-6)
    eta = np.log(-np.log1p(-p0))
    beta = np.linalg.lstsq(x, eta, rcond=None)[0]
    information = np.eye(2)
    for _ in range(_MAX_ITERATIONS):
        eta = np.clip(x @ beta, -30.0, 4.0)
        mu = np.clip(-np.expm1(-np.exp(eta)), 1e-12, 1 - 1e-12)
        dmu = np.exp(eta - np.exp(eta))
        weights = n * dmu**2 / (mu * (1 - mu))
        working = eta + (y / n - mu) / np.maximum(dmu, 1e-300)
        information = x.T @ (weights[:, None] * x)
        try:
            updated = np.linalg.solve(information, x.T @ (weights * working))
        except np.linalg.LinAlgError:
            return None, "the fit is singular (too few distinct informative points)"
        if np.abs(updated).max() > _DIVERGED:
            return None, "the fit diverged (the data are separated: 0% then 100%)"
        if np.abs(updated - beta).max() < 1e-10:
            beta = updated
            break
        beta = updated
    else:
        return None, "the fit did not converge"
    try:
        covariance = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        return None, "the fit is singular (too few distinct informative points)"
    a, b = math.exp(float(beta[0])), float(beta[1])
    k50 = (math.log(2.0) / a) ** (1.0 / b) if b > 0 else None
    extrapolated = k50 is not None and not (k.min() <= k50 <= k.max())
    return (
        PowerLawFit(
            a=a,
            exponent=b,
            exponent_se=math.sqrt(max(0.0, float(covariance[1, 1]))),
            k50=k50,
            k50_extrapolated=extrapolated,
        ),
        None,
    )
