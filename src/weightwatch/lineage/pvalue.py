"""p-values of lineage scores, kept as log10 so that none ever reads as exactly 0.

Two ways to say how surprising a score is for an unrelated model:

- ``Null``/``Nulls``: the *fitted* null, a sample of what unrelated pairs of one model
  class score (valid for models like the ones it was fitted on; a registry re-fits it);
- ``blocks.block_test``: the *population-free* test, from the model's own hidden units
  (no sample of other models involved).

Both report ``log10 p``; ``p_value`` is that number as a float, floored at the smallest
normal double (a bound, ``P_FLOOR``), so JSON never holds a bare ``0``.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from weightwatch.errors import UsageError
from weightwatch.fingerprint.model import Fingerprint

P_FLOOR = sys.float_info.min  # 2.2e-308: below this a p-value is reported as this bound
LN10 = math.log(10.0)


def p_from_log10(log10_p: float) -> float:
    """The float p for ``log10_p``, never 0 (floored at ``P_FLOOR``), never above 1."""
    return float(min(1.0, max(P_FLOOR, 10.0**log10_p))) if log10_p > -307 else P_FLOOR


def p_text(log10_p: float) -> str:
    """How a p-value prints: ``3.2e-45``, and below what a double holds the same form
    built from log10 p (``5.37e-412``), never ``0``."""
    if log10_p > -300:
        return f"{p_from_log10(log10_p):.3g}"
    exponent = math.floor(log10_p)
    mantissa = 10.0 ** (log10_p - exponent)
    if f"{mantissa:.3g}" == "10":
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.3g}e{exponent}"


def log10_adjusted(log10_p: float, n: int) -> float:
    """Bonferroni for ``n`` comparisons, in log10 (capped at p = 1)."""
    return min(0.0, log10_p + math.log10(max(1, n)))


@dataclass(frozen=True)
class Null:
    """What unrelated pairs of one model class score: a sample of atanh(score).

    p-values are empirical, (1 + #{null >= z}) / (n + 1), where the sample has data; in
    the far tail, beyond its 90th percentile, an exponential fitted to the exceedances
    extrapolates (peaks-over-threshold). Both are conservative where a normal fit is
    not: the alignment takes a maximum, so unrelated scores have a heavier upper tail.
    """

    sample: tuple[float, ...]  # sorted
    source: str

    @property
    def n_pairs(self) -> int:
        return len(self.sample)

    def log10_p(self, score: float) -> float:
        """log10 of the p-value of ``score``; finite however far in the tail it is."""
        z = math.atanh(min(max(score, -0.999999), 0.999999))
        x = np.asarray(self.sample)
        n = x.size
        k = int(n - np.searchsorted(x, z, side="left"))  # sample values >= z
        empirical = math.log10((k + 1) / (n + 1))
        u = float(np.quantile(x, 0.9))
        if z <= u:
            return empirical
        excess = x[x > u] - u
        beta = float(excess.mean()) if excess.size else 1e-3
        tail = math.log10((excess.size + 1) / (n + 1)) - (z - u) / max(beta, 1e-6) / LN10
        return float(min(empirical, tail))

    def p_value(self, score: float) -> float:
        return p_from_log10(self.log10_p(score))

    def caution(self) -> float:
        """The 99th percentile of the null: how high unrelated models of this class reach."""
        return float(np.quantile(np.asarray(self.sample), 0.99))

    @classmethod
    def fit(cls, scores: list[float], source: str) -> Null:
        if len(scores) < 10:
            raise UsageError(f"need at least 10 unrelated pairs to fit a null, got {len(scores)}")
        z = np.arctanh(np.clip(np.asarray(scores, dtype=np.float64), -0.999999, 0.999999))
        return cls(tuple(sorted(round(float(v), 6) for v in z)), source)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n_pairs": self.n_pairs, "atanh_scores": list(self.sample)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Null:
        return cls(tuple(sorted(float(v) for v in raw["atanh_scores"])), str(raw["source"]))


def model_class(fp: Fingerprint) -> str:
    """Null classes: models whose embeddings are also the output layer learn much more
    shared structure from the data, so unrelated pairs of them score higher."""
    layout = str(fp.info.get("layout", "gated"))
    return f"{layout}-tied" if fp.info.get("tied_embeddings") else layout


@dataclass(frozen=True)
class Nulls:
    """One ``Null`` per model class; a pair uses the more cautious of its two classes."""

    by_class: dict[str, Null]

    def for_pair(self, a: Fingerprint, b: Fingerprint) -> Null:
        known = [self.by_class[c] for c in (model_class(a), model_class(b)) if c in self.by_class]
        pool = known or list(self.by_class.values())
        return max(pool, key=lambda n: n.caution())

    def to_json(self) -> dict[str, Any]:
        return {"classes": {k: v.to_json() for k, v in sorted(self.by_class.items())}}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Nulls:
        return cls({k: Null.from_json(v) for k, v in raw["classes"].items()})

    @classmethod
    def default(cls) -> Nulls:
        text = resources.files("weightwatch.lineage").joinpath("null.json").read_text()
        return cls.from_json(json.loads(text))
