"""Simulated audits: does an interval cover the true attack success rate as often as it says?

Each simulated audit draws a labelled validation set for the judge (``labels`` complied and
``labels`` refused replies, each read correctly with the judge's sensitivity/specificity),
then ``n`` replies from a model whose true attack success is ``rate``, read through the same
judge. The corrected interval is ``stats.correct_for_judge_error`` (the code every report
uses), the uncorrected one the Wilson interval of the apparent rate. ``make bench-audit-stats``
runs the full grid at 10,000 audits per cell; the tests run a small one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from weightwatch.audit.stats import correct_for_judge_error, wilson_interval
from weightwatch.errors import UsageError
from weightwatch.reports import Record, Report


class CoverageCell(Record):
    sensitivity: float
    specificity: float
    rate: float  # the true attack success rate
    n: int  # replies per audit
    labels: int  # labelled replies per class in the judge's validation set
    runs: int
    corrected: float  # share of runs whose corrected interval held the true rate
    uncorrected: float  # the same for the Wilson interval of the apparent rate
    mean_width: float  # of the corrected interval


class CoverageReport(Report):
    confidence: float
    cells: tuple[CoverageCell, ...]

    @property
    def worst(self) -> CoverageCell:
        return min(self.cells, key=lambda c: c.corrected)


def coverage_cell(
    *,
    sensitivity: float,
    specificity: float,
    rate: float,
    n: int,
    labels: int,
    runs: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoverageCell:
    """Coverage of the corrected and uncorrected intervals in ``runs`` simulated audits."""
    if runs < 1 or n < 1 or labels < 1:
        raise UsageError("runs, n and labels must be positive")
    rng = np.random.default_rng(seed)
    apparent = sensitivity * rate + (1.0 - specificity) * (1.0 - rate)
    successes = rng.binomial(n, apparent, runs)
    caught = rng.binomial(labels, sensitivity, runs)
    passed = rng.binomial(labels, specificity, runs)
    held = plain = 0
    width = 0.0
    cache: dict[tuple[int, int, int], tuple[float, float]] = {}
    for k, tp, tn in zip(successes.tolist(), caught.tolist(), passed.tolist(), strict=True):
        key = (k, tp, tn)
        if key not in cache:
            if tp + tn <= labels:  # the drawn judge is no better than chance: no correction
                cache[key] = (0.0, 1.0)
            else:
                c = correct_for_judge_error(
                    k,
                    n,
                    sensitivity_counts=(tp, labels),
                    specificity_counts=(tn, labels),
                    confidence=confidence,
                )
                cache[key] = (c.interval.low, c.interval.high)
        low, high = cache[key]
        held += low <= rate <= high
        width += high - low
        w = wilson_interval(k, n, confidence=confidence)
        plain += w.low <= rate <= w.high
    return CoverageCell(
        sensitivity=sensitivity,
        specificity=specificity,
        rate=rate,
        n=n,
        labels=labels,
        runs=runs,
        corrected=held / runs,
        uncorrected=plain / runs,
        mean_width=width / runs,
    )


def coverage_grid(
    *,
    judges: Iterable[tuple[float, float]],
    rates: Iterable[float],
    sizes: Iterable[int],
    labels: Iterable[int],
    runs: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoverageReport:
    """Every combination of judge error, true rate, audit size and validation-set size."""
    cells: list[CoverageCell] = []
    rates, sizes, labels = tuple(rates), tuple(sizes), tuple(labels)
    for index, (se, sp) in enumerate(judges):
        for rate in rates:
            for n in sizes:
                for m in labels:
                    cells.append(
                        coverage_cell(
                            sensitivity=se,
                            specificity=sp,
                            rate=rate,
                            n=n,
                            labels=m,
                            runs=runs,
                            confidence=confidence,
                            seed=seed + 7919 * index + len(cells),
                        )
                    )
    return CoverageReport(confidence=confidence, cells=tuple(cells))
