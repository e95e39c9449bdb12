"""The detection report: what a watermark check found, in a stable JSON form.

Reports name the key only by its public id. ``p_value`` is the final, adjusted figure
(for the number of keys and windows tested); the verdict compares it with ``alpha``.
"""

from __future__ import annotations

from typing import Literal

from weightwatch.reports import SCHEMA_VERSION, Record, Report

Verdict = Literal["watermarked", "not_watermarked", "too_short"]
Correction = Literal["bonferroni", "sidak"]


class WatermarkSpan(Record):
    """A stretch of watermarked tokens inside a longer text (token indices, end exclusive)."""

    start: int
    end: int
    n_scored: int
    score: float
    #: tail probability of this span, adjusted (Bonferroni) for choosing its boundaries
    #: among every sub-interval of the text and for every key tested
    p_value: float
    #: the best window inside the span, adjusted for every window and key tested
    adjusted_p_value: float


class WatermarkDetection(Report):
    """The outcome of testing one token sequence against one or more keys."""

    schema_version: Literal["1"] = "1"  # a reader refuses forms it does not know
    scheme: str
    params: dict[str, str | int | float]
    key_id: str
    keys_tested: int
    n_tokens: int
    n_scored: int
    score: float
    green_fraction: float | None
    z: float
    p_value: float
    log10_p_value: float
    p_value_unadjusted: float
    correction: Correction
    windows_tested: int
    tests: int
    alpha: float
    min_scored: int
    verdict: Verdict
    spans: tuple[WatermarkSpan, ...] = ()


__all__ = ["SCHEMA_VERSION", "Correction", "Verdict", "WatermarkDetection", "WatermarkSpan"]
