"""Paired outcomes (the same behaviours on two models): McNemar, paired differences, TOST.

- Exact McNemar: a binomial test on the discordant pairs.
- The paired difference: Tango's score interval (Tango 1998) by default, Newcombe's
  square-and-add (Newcombe 1998, method 10) on request. Both check out against published
  values or their defining equations; Tango is the default because Newcombe's interval is
  too narrow when no pair is discordant.
- TOST by interval inclusion, and sample sizes for McNemar (Connor 1987) and TOST.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from weightwatch.audit.stats import Interval, wilson_interval, z_quantile
from weightwatch.errors import UsageError


def binomial_upper_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), computed exactly."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    tail = sum(math.comb(n, i) for i in range(k, n + 1))
    return float(Fraction(tail, 2**n))


def mcnemar_exact(b: int, c: int) -> float:
    """One-sided exact McNemar p-value for "b-type discordance is more common than c-type".

    ``b`` and ``c`` are the discordant pairs; under H0 each discordant pair is b-type with
    probability 1/2, so p = P(X >= b), X ~ Binomial(b + c, 1/2). No discordance gives 1.
    """
    if b < 0 or c < 0:
        raise UsageError(f"discordant counts must be non-negative, not b={b}, c={c}")
    return binomial_upper_tail(b, b + c)


def newcombe_paired_interval(
    n11: int, n12: int, n21: int, n22: int, *, confidence: float = 0.95
) -> Interval:
    """Newcombe's square-and-add interval for p1 - p2 from a paired 2x2 table.

    ``n11`` both positive, ``n12`` first positive only, ``n21`` second positive only,
    ``n22`` neither; p1 = (n11 + n12)/n, p2 = (n11 + n21)/n. Newcombe (1998), method 10.
    """
    cells = (n11, n12, n21, n22)
    if min(cells) < 0:
        raise UsageError(f"table counts must be non-negative, not {cells}")
    n = sum(cells)
    if n == 0:
        raise UsageError("the paired table is empty")
    p1, p2 = (n11 + n12) / n, (n11 + n21) / n
    w1 = wilson_interval(n11 + n12, n, confidence=confidence)
    w2 = wilson_interval(n11 + n21, n, confidence=confidence)
    margins = (n11 + n12) * (n21 + n22) * (n11 + n21) * (n12 + n22)
    cross = n11 * n22 - n12 * n21
    corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    phi = corrected / math.sqrt(margins) if margins > 0 else 0.0
    d = p1 - p2
    d1, e1 = p1 - w1.low, w1.high - p1
    d2, e2 = p2 - w2.low, w2.high - p2
    low = d - math.sqrt(max(0.0, d1 * d1 - 2 * phi * d1 * e2 + e2 * e2))
    high = d + math.sqrt(max(0.0, d2 * d2 - 2 * phi * d2 * e1 + e1 * e1))
    return Interval(
        low=max(-1.0, low), high=min(1.0, high), confidence=confidence, method="newcombe-paired"
    )


def _tango_statistic(delta: float, n12: int, n21: int, n: int) -> float:
    a = 2.0 * n
    b = -n12 - n21 + (2.0 * n - n12 + n21) * delta
    c = -n21 * delta * (1.0 - delta)
    p21 = (math.sqrt(max(0.0, b * b - 4.0 * a * c)) - b) / (2.0 * a)
    variance = n * (2.0 * p21 + delta * (1.0 - delta))
    if variance <= 0.0:
        return math.copysign(math.inf, n12 - n21 - n * delta) if n12 - n21 != n * delta else 0.0
    return (n12 - n21 - n * delta) / math.sqrt(variance)


def tango_paired_interval(
    n11: int, n12: int, n21: int, n22: int, *, confidence: float = 0.95
) -> Interval:
    """Tango's (1998) score interval for p1 - p2 from a paired 2x2 table (cells as Newcombe).

    Inverts the score test with the restricted maximum-likelihood nuisance estimate. With no
    discordant pair its half-width is z²/(n + z²), the Wilson bound on an unseen event,
    where Newcombe's interval is narrower than the data justify; TOST therefore uses Tango.
    """
    cells = (n11, n12, n21, n22)
    if min(cells) < 0:
        raise UsageError(f"table counts must be non-negative, not {cells}")
    n = sum(cells)
    if n == 0:
        raise UsageError("the paired table is empty")
    z = z_quantile(confidence)
    estimate = (n12 - n21) / n

    def root(target: float) -> float:
        # The statistic decreases in delta; bisect for statistic(delta) == target.
        low, high = -1.0 + 1e-12, 1.0 - 1e-12
        for _ in range(200):
            mid = (low + high) / 2
            if _tango_statistic(mid, n12, n21, n) > target:
                low = mid
            else:
                high = mid
            if high - low < 1e-13:
                break
        return (low + high) / 2

    low = -1.0 if estimate == -1.0 else root(z)
    high = 1.0 if estimate == 1.0 else root(-z)
    return Interval(low=low, high=high, confidence=confidence, method="tango-score-paired")


PairedMethod = Literal["tango", "newcombe"]


def paired_difference_interval(
    n11: int,
    n12: int,
    n21: int,
    n22: int,
    *,
    confidence: float = 0.95,
    method: PairedMethod = "tango",
) -> Interval:
    """Interval for p1 - p2 of a paired table: Tango's score (default) or Newcombe's."""
    if method == "tango":
        return tango_paired_interval(n11, n12, n21, n22, confidence=confidence)
    if method == "newcombe":
        return newcombe_paired_interval(n11, n12, n21, n22, confidence=confidence)
    raise UsageError(f"unknown paired interval method {method!r} (tango, newcombe)")


def tost_p_value(
    n11: int,
    n12: int,
    n21: int,
    n22: int,
    *,
    margin: float,
    method: PairedMethod = "tango",
) -> float:
    """Smallest alpha at which the paired difference is shown inside ±margin (TOST).

    TOST at level alpha passes exactly when the (1 - 2·alpha) interval lies inside
    (-margin, margin); this inverts that by bisection. 1.0 when not even the point
    estimate is inside.
    """
    if not 0.0 < margin < 1.0:
        raise UsageError(f"the equivalence margin must be in (0, 1), not {margin}")

    def inside(alpha: float) -> bool:
        ci = paired_difference_interval(
            n11, n12, n21, n22, confidence=1.0 - 2.0 * alpha, method=method
        )
        return -margin < ci.low and ci.high < margin

    low_alpha, high_alpha = 1e-12, 0.5 - 1e-12
    if not inside(high_alpha):
        return 1.0
    if inside(low_alpha):
        return low_alpha
    for _ in range(60):
        mid = (low_alpha + high_alpha) / 2
        if inside(mid):
            high_alpha = mid
        else:
            low_alpha = mid
    return high_alpha


def mcnemar_sample_size(
    discordance: float, difference: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Pairs needed for a one-sided McNemar test to detect ``difference`` (Connor 1987).

    ``discordance`` = P(pair discordant); ``difference`` = P(b-type) - P(c-type) > 0.
    None when the effect is not positive or not possible under that discordance.
    """
    if difference <= 0 or difference * difference >= discordance or discordance > 1:
        return None
    z_a, z_b = z_quantile(1 - alpha, two_sided=False), z_quantile(power, two_sided=False)
    root = z_a * math.sqrt(discordance) + z_b * math.sqrt(discordance - difference**2)
    return math.ceil(root * root / difference**2)


def tost_sample_size(
    discordance: float,
    difference: float,
    *,
    margin: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int | None:
    """Pairs needed for TOST to show |true difference| < margin (normal approximation).

    Uses the paired-difference variance (discordance - difference²); with a true difference
    of zero both one-sided tests share the type II error (z at 1 - beta/2). None when the
    assumed difference is at or beyond the margin.
    """
    gap = margin - abs(difference)
    if gap <= 0 or discordance > 1:
        return None
    variance = max(discordance - difference**2, 1e-12)
    beta = 1 - power
    z_b = z_quantile(1 - beta / 2 if difference == 0 else power, two_sided=False)
    z_a = z_quantile(1 - alpha, two_sided=False)
    return math.ceil((z_a + z_b) ** 2 * variance / gap**2)
