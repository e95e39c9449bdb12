"""The report of a weight-watermark test (GaussMark), in a stable JSON form.

``psi`` is the statistic of the best key (exactly N(0, 1) under the null, given the
text); ``p_value`` is adjusted for the number of keys (recipients) tested, exactly: the
keys' statistics are independent under the null, so ``1 - (1 - p_min)^m``.
"""

from __future__ import annotations

from typing import Literal

from weightwatch.reports import Report
from weightwatch.watermark.report import Verdict

Reference = Literal["original", "marked-minus-key"]
Evidence = Literal["text", "weights"]


class WeightWatermarkDetection(Report):
    """Whether text (or a derivative's weights) came from a copy marked with a tested key."""

    schema_version: Literal["1"] = "1"
    scheme: str
    params: dict[str, object]
    evidence: Evidence
    reference: Reference
    key_id: str
    #: the deployment (or ``recipient/<grant>``) the best key was derived for
    deployment: str
    keys_tested: int
    n_tokens: int
    psi: float
    p_value: float
    log10_p_value: float
    p_value_unadjusted: float
    alpha: float
    verdict: Verdict


__all__ = ["Evidence", "Reference", "WeightWatermarkDetection"]
