"""How many paired prompts an audit needs, and what power a finished one had.

The question a user asks before spending compute: "how many paired prompts to detect a
rise of ``effect`` in attack success with power 0.8, given my judge's error?" The model:

- true outcomes per prompt pair (base complied?, derivative complied?) with base attack
  success ``base_rate``, derivative ``base_rate + effect``, and ``reverse`` = P(base
  complied, derivative refused) (0 by default: the derivative keeps every success of the
  base, the most favourable case; set it from a pilot run when known);
- the judge misreads each reply independently of the model that wrote it (sensitivity
  for complied replies, specificity for refusals), which turns the true table into the
  *apparent* one the test sees;
- the test is the one-sided exact McNemar test ``compare_refusals`` runs, at ``alpha``.

Power is computed exactly (a sum over the number of discordant pairs, each with its exact
conditional critical value), not from a normal approximation, so the plan agrees with a
simulation of the same test; ``simulated_power`` is that simulation. Exact power is a
sawtooth in n (the test is discrete): the plan is the smallest n whose power reaches the
target and stays there for the next ``stable`` sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weightwatch.audit.paired import mcnemar_sample_size
from weightwatch.errors import UsageError
from weightwatch.reports import Report


@dataclass(frozen=True)
class JudgeError:
    """A judge's sensitivity (complied read as complied) and specificity (refusal as refusal)."""

    sensitivity: float = 1.0
    specificity: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("sensitivity", self.sensitivity), ("specificity", self.specificity)):
            if not 0.0 < value <= 1.0:
                raise UsageError(f"judge {name} must be in (0, 1], not {value}")
        if self.sensitivity + self.specificity <= 1.0:
            raise UsageError(
                f"a judge with sensitivity {self.sensitivity} and specificity "
                f"{self.specificity} is no better than chance: no sample size helps"
            )


class PlanReport(Report):
    """``audit plan``'s answer, with everything it assumed."""

    effect: float
    base_rate: float
    reverse: float
    alpha: float
    power: float
    sensitivity: float
    specificity: float
    judge: str | None  # the judge whose measured error was used, if any
    pairs: int | None  # None: not reachable within max_pairs
    achieved_power: float | None  # exact power at ``pairs``
    apparent_effect: float  # the rise the judge lets the test see
    discordance: tuple[float, float]  # apparent P(only derivative complied), P(only base)
    pairs_perfect_judge: int | None  # the same plan with a judge that never errs


def apparent_discordance(
    *, base_rate: float, effect: float, reverse: float = 0.0, judge: JudgeError | None = None
) -> tuple[float, float]:
    """(P(only the derivative read as complied), P(only the base read as complied))."""
    judge = judge or JudgeError()
    p_base, p_derivative = base_rate, base_rate + effect
    if not 0.0 <= base_rate < 1.0 or not effect > 0.0 or p_derivative > 1.0:
        raise UsageError(
            f"rates out of range: base {base_rate}, effect {effect} "
            "(need 0 <= base < base + effect <= 1)"
        )
    both = p_base - reverse  # true table: complied by both
    only_derivative = p_derivative - both
    neither = 1.0 - both - reverse - only_derivative
    if reverse < 0 or both < -1e-12 or neither < -1e-12:
        raise UsageError(
            f"reverse discordance {reverse} is impossible with base rate {base_rate} and "
            f"effect {effect}"
        )
    se, sp = judge.sensitivity, judge.specificity

    def read(complied: bool) -> float:  # P(read as complied | truth)
        return se if complied else 1.0 - sp

    cells = {(True, True): both, (True, False): reverse, (False, True): only_derivative}
    cells[(False, False)] = max(0.0, neither)
    q_derivative = q_base = 0.0
    for (base_true, derivative_true), mass in cells.items():
        rb, rd = read(base_true), read(derivative_true)
        q_derivative += mass * (1.0 - rb) * rd
        q_base += mass * rb * (1.0 - rd)
    return q_derivative, q_base


def _critical(ms: np.ndarray, alpha: float) -> np.ndarray:
    """Per m, the smallest k with P(Bin(m, 1/2) >= k) < alpha (where ``mcnemar_exact``
    rejects); m + 1 where no k does."""
    from scipy.stats import binom  # type: ignore[import-untyped]  # lazy: slow import

    crit = binom.ppf(1.0 - alpha, ms, 0.5).astype(np.int64) + 1
    crit = np.where(binom.sf(crit - 1, ms, 0.5) >= alpha, crit + 1, crit)  # ties: strict <
    lower = crit - 1  # ppf rounding: step down while the smaller k still rejects
    crit = np.where((lower >= 0) & (binom.sf(lower - 1, ms, 0.5) < alpha), lower, crit)
    result: np.ndarray = np.minimum(crit, ms + 1)
    return result


def exact_power(n: int, q_concern: float, q_reverse: float, *, alpha: float) -> float:
    """Power of the one-sided exact McNemar test with ``n`` pairs and these discordances."""
    from scipy.stats import binom

    if n < 1:
        return 0.0
    discordance = q_concern + q_reverse
    if discordance <= 0:
        return 0.0
    share = q_concern / discordance
    ms = np.arange(n + 1)
    weights = binom.pmf(ms, n, discordance)
    crit = _critical(ms, alpha)
    conditional = binom.sf(crit - 1, ms, share)
    return float(np.sum(weights * conditional))


def plan_pairs(
    q_concern: float,
    q_reverse: float,
    *,
    alpha: float,
    power: float,
    max_pairs: int = 100_000,
    stable: int = 5,
) -> int | None:
    """Smallest n whose exact power reaches ``power`` and holds for ``stable`` more sizes."""
    if not 0.0 < power < 1.0 or not 0.0 < alpha < 0.5:
        raise UsageError("power must be in (0, 1) and alpha in (0, 0.5)")
    if q_concern <= q_reverse:
        return None

    def holds(n: int) -> bool:
        return all(
            exact_power(k, q_concern, q_reverse, alpha=alpha) >= power
            for k in range(n, n + stable + 1)
        )

    # A normal-approximation start (Connor 1987), then a bracketed search on exact power.
    discordance, change = q_concern + q_reverse, q_concern - q_reverse
    guess = max(1, mcnemar_sample_size(discordance, change, alpha=alpha, power=power) or 1)
    low, high = max(1, guess // 2), guess
    while exact_power(high, q_concern, q_reverse, alpha=alpha) < power:
        low, high = high, high * 2
        if low > max_pairs:
            return None
    while exact_power(low, q_concern, q_reverse, alpha=alpha) >= power and low > 1:
        low = max(1, low // 2)
    while high - low > 1:  # power is increasing up to the sawtooth: bisect, then walk
        mid = (low + high) // 2
        if exact_power(mid, q_concern, q_reverse, alpha=alpha) >= power:
            high = mid
        else:
            low = mid
    n = high
    while not holds(n):
        n += 1
        if n > max_pairs:
            return None
    return n


def plan_audit(
    *,
    effect: float,
    power: float = 0.8,
    alpha: float = 0.05,
    base_rate: float = 0.05,
    reverse: float = 0.0,
    judge: JudgeError | None = None,
    judge_name: str | None = None,
    max_pairs: int = 100_000,
) -> PlanReport:
    """Paired prompts needed to detect a rise of ``effect`` in attack success."""
    error = judge or JudgeError()
    q_concern, q_reverse = apparent_discordance(
        base_rate=base_rate, effect=effect, reverse=reverse, judge=error
    )
    pairs = plan_pairs(q_concern, q_reverse, alpha=alpha, power=power, max_pairs=max_pairs)
    perfect = plan_pairs(
        *apparent_discordance(base_rate=base_rate, effect=effect, reverse=reverse),
        alpha=alpha,
        power=power,
        max_pairs=max_pairs,
    )
    return PlanReport(
        effect=effect,
        base_rate=base_rate,
        reverse=reverse,
        alpha=alpha,
        power=power,
        sensitivity=error.sensitivity,
        specificity=error.specificity,
        judge=judge_name,
        pairs=pairs,
        achieved_power=(
            exact_power(pairs, q_concern, q_reverse, alpha=alpha) if pairs is not None else None
        ),
        apparent_effect=q_concern - q_reverse,
        discordance=(q_concern, q_reverse),
        pairs_perfect_judge=perfect,
    )


def achieved_power(
    n: int,
    *,
    effect: float,
    alpha: float,
    base_rate: float,
    reverse: float = 0.0,
    judge: JudgeError | None = None,
) -> float:
    """Power a finished comparison of ``n`` pairs had to detect ``effect`` (not the observed
    change: power computed from the observed effect says nothing the p-value does not)."""
    base_rate = min(max(base_rate, 0.0), 1.0 - effect)
    q_concern, q_reverse = apparent_discordance(
        base_rate=base_rate, effect=effect, reverse=reverse, judge=judge
    )
    return exact_power(n, q_concern, q_reverse, alpha=alpha)


def simulated_power(
    n: int,
    *,
    effect: float,
    alpha: float,
    base_rate: float,
    reverse: float = 0.0,
    judge: JudgeError | None = None,
    runs: int = 2000,
    seed: int = 0,
) -> float:
    """Monte Carlo power: draw true pairs, misread each reply, run the exact McNemar test."""
    from scipy.stats import binom

    error = judge or JudgeError()
    rng = np.random.default_rng(seed)
    both = base_rate - reverse
    only_derivative = base_rate + effect - both
    probabilities = [both, reverse, only_derivative, 1.0 - both - reverse - only_derivative]
    truth = rng.choice(4, size=(runs, n), p=probabilities)
    base_true = (truth == 0) | (truth == 1)
    derivative_true = (truth == 0) | (truth == 2)

    def read(true: np.ndarray) -> np.ndarray:
        u = rng.random(true.shape)
        return np.where(true, u < error.sensitivity, u >= error.specificity)

    base_read, derivative_read = read(base_true), read(derivative_true)
    lost = np.sum(~base_read & derivative_read, axis=1)  # refusals lost by the derivative
    gained = np.sum(base_read & ~derivative_read, axis=1)
    # The one-sided exact McNemar p-value (``paired.mcnemar_exact``), vectorised: P(X >= lost).
    p_values = np.where(lost + gained > 0, binom.sf(lost - 1, lost + gained, 0.5), 1.0)
    return float(np.mean(p_values < alpha))
