"""How much of a mark *any* detector could find in text: bounds on a test's power.

A detector's measured TPR says how well that detector does. Whether a goal such as "TPR 0.9
at FPR 1e-3 from 200 tokens" is reachable at all is a property of the two text
distributions, not of a detector: the marked model's texts ``P_a`` and texts the detector
must not flag, ``P_b`` (the unmarked original's, which are independent of the key, so every
valid watermark test keeps its false-positive rate on them). Both bounds here hold for every
test, including one that knows the marked weights exactly (the likelihood-ratio test, which
Neyman and Pearson showed is the most powerful):

- ``max_power_from_kl``: data processing. A test is a function of the text, so the binary
  divergence between its rejection rates under the two distributions cannot exceed the
  texts' divergence: ``d(power || alpha) <= KL(P_a || P_b)``. For n tokens that divergence
  is, by the chain rule, the expected sum over positions of the next-token divergences along
  ``P_a``'s own texts (``wm_eval_real.log_ratio_and_kl``).
- ``likelihood_ratio_power``: sharper, from the distribution of the texts' log-likelihood
  ratio ``L = log P_a(x) - log P_b(x)`` under ``P_a``. For any region A of texts with
  ``P_b(A) <= alpha`` and any t, ``P_a(A) <= P_a(L > t) + e^t alpha`` (split A at ``L = t``
  and use ``P_a = e^L P_b`` below it); the minimum over t is the upper bound. The
  likelihood-ratio test at threshold ``log(1/alpha)`` is itself valid at alpha
  (``P_b(L >= t) <= e^-t``, Markov on ``E_b[e^L] = 1``), so its power is an achievable lower
  bound.

Both need only texts drawn from ``P_a``: no large sample of null texts is needed to reach a
1e-3 tail. They are estimates from a finite sample of texts, reported with that sample's
size.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq  # type: ignore[import-untyped]


def binary_kl(p: float, q: float) -> float:
    """KL divergence (nats) between Bernoulli(p) and Bernoulli(q)."""

    def term(x: float, y: float) -> float:
        return 0.0 if x == 0.0 else x * math.log(x / y)

    return term(p, q) + term(1.0 - p, 1.0 - q)


def max_power_from_kl(kl: float, alpha: float) -> float:
    """The largest power a level-``alpha`` test can have when the alternative is ``kl`` nats
    from the null: the largest ``b >= alpha`` with ``binary_kl(b, alpha) <= kl``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    if kl <= 0.0:
        return alpha
    if binary_kl(1.0, alpha) <= kl:
        return 1.0
    return float(brentq(lambda b: binary_kl(b, alpha) - kl, alpha, 1.0, xtol=1e-12))


def likelihood_ratio_power(log_ratios: npt.ArrayLike, alpha: float) -> tuple[float, float, float]:
    """(achievable, upper bound, t) for level ``alpha``, from log-likelihood ratios of texts
    drawn from the alternative: the power of the likelihood-ratio test at ``log(1/alpha)``,
    and ``min_t P(L > t) + alpha e^t`` with the t that attains it."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    ratios = np.sort(np.asarray(log_ratios, dtype=np.float64))
    if ratios.size == 0 or not np.all(np.isfinite(ratios)):
        raise ValueError("log-likelihood ratios must be a non-empty set of finite numbers")
    n = ratios.size
    achievable = float(np.mean(ratios >= math.log(1.0 / alpha)))
    # P(L > t) only drops at the sample's values and alpha e^t only grows between them, so
    # the minimum over t is at one of them (t -> -inf gives the trivial bound 1).
    above = (n - np.searchsorted(ratios, ratios, side="right")) / n
    bounds = above + alpha * np.exp(np.minimum(ratios, 700.0))
    best = int(np.argmin(bounds))
    upper = min(1.0, float(bounds[best]))
    return achievable, upper, float(ratios[best])
