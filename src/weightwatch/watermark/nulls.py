"""Exact null distributions of watermark statistics, and their tail probabilities.

A scheme's per-token statistics are, under the null hypothesis (the text does not depend
on the key), independent with a known law once repeated hash inputs are counted once.
The sum over ``n`` scored tokens then has an exact law: Binomial(n, gamma) for green
counts, Gamma(n, 1) (Erlang) for sums of Exp(1) scores. Tail probabilities come from
the regularised incomplete beta/gamma functions; ``log10_sf`` stays finite where the
p-value itself underflows a double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy import special  # type: ignore[import-untyped]  # no stubs installed

F64 = npt.NDArray[np.float64]
_UNDERFLOW = 1e-250


class NullDistribution(Protocol):
    """The law of one token's statistic under the null, and of sums of them."""

    @property
    def name(self) -> str: ...

    @property
    def mean(self) -> float: ...

    @property
    def std(self) -> float: ...

    def sf(self, score: npt.ArrayLike, n: npt.ArrayLike) -> F64:
        """P(S_n >= score), vectorised over both arguments."""
        ...

    def log10_sf(self, score: float, n: int) -> float:
        """log10 P(S_n >= score), exact even where ``sf`` underflows."""
        ...

    def llr(self, values: F64, alt_mean: float) -> F64:
        """Per-token log-likelihood ratios against an alternative with this mean."""
        ...


def z_score(null: NullDistribution, score: float, n: int) -> float:
    """The normal-approximation z of a sum (reported for comparison, not used to decide)."""
    if n <= 0:
        return 0.0
    return (score - n * null.mean) / (null.std * math.sqrt(n))


def _logsumexp(x: F64) -> float:
    top = float(np.max(x))
    if not math.isfinite(top):
        return top
    return top + math.log(float(np.sum(np.exp(x - top))))


@dataclass(frozen=True)
class BinomialNull:
    """``trials`` Bernoulli(gamma) bits per scored token, Binomial(n * trials, gamma) sums.

    KGW scores one green bit per token (``trials=1``); tournament sampling scores one
    g-value bit per tournament layer.
    """

    gamma: float
    name: Literal["binomial"] = "binomial"
    trials: int = 1

    @property
    def mean(self) -> float:
        return self.trials * self.gamma

    @property
    def std(self) -> float:
        return math.sqrt(self.trials * self.gamma * (1.0 - self.gamma))

    def sf(self, score: npt.ArrayLike, n: npt.ArrayLike) -> F64:
        g = np.ceil(np.asarray(score, dtype=np.float64) - 1e-9)
        nn = np.asarray(n, dtype=np.float64) * self.trials
        g, nn = np.broadcast_arrays(g, nn)
        inside = (g >= 1) & (g <= nn)
        a = np.where(inside, g, 1.0)
        b = np.where(inside, nn - g + 1.0, 1.0)
        tail = special.betainc(a, b, self.gamma)  # P(X >= g) = I_gamma(g, n - g + 1)
        out = np.where(g <= 0, 1.0, np.where(g > nn, 0.0, tail))
        return np.asarray(out, dtype=np.float64)

    def log10_sf(self, score: float, n: int) -> float:
        p = float(self.sf(score, n))
        if p > _UNDERFLOW or p == 1.0:
            return math.log10(p)
        g = math.ceil(score - 1e-9)
        m = n * self.trials
        if g > m:
            return -math.inf
        k = np.arange(g, m + 1, dtype=np.float64)
        logpmf = (
            special.gammaln(m + 1.0)
            - special.gammaln(k + 1.0)
            - special.gammaln(m - k + 1.0)
            + k * math.log(self.gamma)
            + (m - k) * math.log1p(-self.gamma)
        )
        return _logsumexp(logpmf) / math.log(10.0)

    def pmf(self, k: npt.ArrayLike, n: npt.ArrayLike) -> F64:
        """P(S_n = k); used to randomise p-values in uniformity tests."""
        kk = np.asarray(k, dtype=np.float64)
        nn = np.asarray(n, dtype=np.float64) * self.trials
        kk, nn = np.broadcast_arrays(kk, nn)
        inside = (kk >= 0) & (kk <= nn)
        k0, n0 = np.where(inside, kk, 0.0), np.where(inside, nn, 0.0)
        log_pmf = (  # in log space: binom(n, k) overflows for n * trials in the thousands
            special.gammaln(n0 + 1.0)
            - special.gammaln(k0 + 1.0)
            - special.gammaln(n0 - k0 + 1.0)
            + special.xlogy(k0, self.gamma)
            + special.xlog1py(n0 - k0, -self.gamma)
        )
        return np.asarray(np.where(inside, np.exp(log_pmf), 0.0), dtype=np.float64)

    def randomized_sf(self, score: npt.ArrayLike, n: npt.ArrayLike, u: npt.ArrayLike) -> F64:
        """``P(S > s) + U * P(S = s)`` for an integer score ``s`` and ``U`` uniform on [0, 1).

        The reported p-value ``P(S >= s)`` of a discrete statistic is valid but not uniform
        under the null (it is conservative: ``P(p <= alpha) <= alpha``), so a KS test of
        calibration on it rejects however right the null is. Spreading each score's mass
        with an independent ``U`` makes the p-value exactly uniform; calibration checks use
        this form, detection reports the conservative one.
        """
        s = np.asarray(score, dtype=np.float64)
        rand = self.sf(s + 1.0, n) + np.asarray(u, dtype=np.float64) * self.pmf(s, n)
        return np.asarray(rand, dtype=np.float64)

    def llr(self, values: F64, alt_mean: float) -> F64:
        m = self.trials
        q = min(max(alt_mean / m, self.gamma + 1e-6), 1.0 - 1e-6)
        hit = math.log(q / self.gamma)
        miss = math.log((1.0 - q) / (1.0 - self.gamma))
        return (values * hit + (m - values) * miss).astype(np.float64)


@dataclass(frozen=True)
class GammaNull:
    """Exp(1) scores per token (``-log(1 - r)``), Gamma(n, 1) sums."""

    name: Literal["gamma"] = "gamma"

    @property
    def mean(self) -> float:
        return 1.0

    @property
    def std(self) -> float:
        return 1.0

    def sf(self, score: npt.ArrayLike, n: npt.ArrayLike) -> F64:
        s = np.asarray(score, dtype=np.float64)
        nn = np.asarray(n, dtype=np.float64)
        s, nn = np.broadcast_arrays(s, nn)
        tail = special.gammaincc(np.maximum(nn, 1.0), np.maximum(s, 0.0))
        out = np.where(nn <= 0, np.where(s <= 0, 1.0, 0.0), np.where(s <= 0, 1.0, tail))
        return np.asarray(out, dtype=np.float64)

    def log10_sf(self, score: float, n: int) -> float:
        p = float(self.sf(score, n))
        if p > _UNDERFLOW or p == 1.0 or n <= 0:
            return math.log10(p) if p > 0 else -math.inf
        # Erlang tail: P(Gamma(n, 1) >= s) = P(Poisson(s) < n), summed in log space.
        k = np.arange(0, n, dtype=np.float64)
        terms = -score + k * math.log(score) - special.gammaln(k + 1.0)
        return _logsumexp(terms) / math.log(10.0)

    def llr(self, values: F64, alt_mean: float) -> F64:
        mu = max(alt_mean, 1.0 + 1e-6)  # alternative: Exp with mean mu > 1
        return (-math.log(mu) + values * (1.0 - 1.0 / mu)).astype(np.float64)


__all__ = ["BinomialNull", "GammaNull", "NullDistribution", "z_score"]
