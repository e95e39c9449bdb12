"""Testing text, or a derivative's weights, against weight-watermark keys.

One gradient (or one weight difference) is computed per input and then scored against
every key, so testing 100 recipients costs little more than testing one. The keys'
statistics are independent N(0, 1) under the null given the input, so the smallest
p-value over ``m`` keys is adjusted exactly: ``1 - (1 - p)^m``.

Recipient keys come from the deployment's master secret and the grant
(``recipient_key``): the registry derives the same key when it serves a copy and when
it traces one, and never stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from weightwatch.errors import UsageError
from weightwatch.watermark.detect import DEFAULT_ALPHA, adjust_keys
from weightwatch.watermark.gaussmark import z_p_value
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.weightio import LoadedReference, log_likelihood_gradient, weight_delta
from weightwatch.watermark.weightreport import Evidence, WeightWatermarkDetection

MIN_TOKENS = 2
RECIPIENT_PREFIX = "recipient/"


def recipient_key(master: MasterSecret, grant: str, *, scheme: str = "gaussmark") -> WatermarkKey:
    """The key of the copy served under one grant (a grant id, or a user name)."""
    if not grant:
        raise UsageError("a recipient needs a non-empty grant id")
    return master.derive(RECIPIENT_PREFIX + grant, scheme=scheme)


def adjust_max(p: float, log10_p: float, m: int) -> tuple[float, float]:
    """Exact p-value of the best of ``m`` independent N(0, 1) statistics (Šidák)."""
    return adjust_keys(p, log10_p, m, "sidak")


def _report(
    psis: list[float],
    keys: Sequence[WatermarkKey],
    ref: LoadedReference,
    *,
    evidence: Evidence,
    n_tokens: int,
    alpha: float,
    too_short: bool,
) -> WeightWatermarkDetection:
    best = int(np.argmax(psis))
    p, log10_p = z_p_value(psis[best])
    p_adj, log10_adj = adjust_max(p, log10_p, len(keys))
    verdict = "too_short" if too_short else ("watermarked" if p_adj <= alpha else "not_watermarked")
    return WeightWatermarkDetection(
        scheme=ref.scheme.name,
        params=ref.scheme.describe(),
        evidence=evidence,
        reference=ref.reference,
        key_id=keys[best].key_id,
        deployment=keys[best].deployment,
        keys_tested=len(keys),
        n_tokens=n_tokens,
        psi=psis[best],
        p_value=p_adj,
        log10_p_value=log10_adj,
        p_value_unadjusted=p,
        alpha=alpha,
        verdict=verdict,
    )


def _check(keys: WatermarkKey | Sequence[WatermarkKey], alpha: float) -> list[WatermarkKey]:
    key_list = [keys] if isinstance(keys, WatermarkKey) else list(keys)
    if not key_list:
        raise UsageError("a weight-watermark test needs at least one key")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie in (0, 1), not {alpha}")
    return key_list


def scores_of_text(
    token_ids: npt.ArrayLike, ref: LoadedReference, keys: Sequence[WatermarkKey]
) -> list[float]:
    """``psi`` of every key for one text (the evaluation harness's entry point)."""
    ids = [int(t) for t in np.asarray(token_ids, dtype=np.int64).ravel()]
    grads = log_likelihood_gradient(ref, ids)
    return ref.scheme.statistic(grads, ref.stds, keys)


def detect_text_weights(
    token_ids: npt.ArrayLike,
    ref: LoadedReference,
    keys: WatermarkKey | Sequence[WatermarkKey],
    *,
    alpha: float = DEFAULT_ALPHA,
) -> WeightWatermarkDetection:
    """Was this text sampled from a copy marked with one of ``keys``?"""
    key_list = _check(keys, alpha)
    ids = np.asarray(token_ids, dtype=np.int64).ravel()
    if ids.size < MIN_TOKENS:
        psis = [0.0] * len(key_list)
    else:
        psis = scores_of_text(ids, ref, key_list)
    return _report(
        psis,
        key_list,
        ref,
        evidence="text",
        n_tokens=int(ids.size),
        alpha=alpha,
        too_short=ids.size < MIN_TOKENS,
    )


def detect_derivative(
    derivative_dir: str | Path,
    ref: LoadedReference,
    keys: WatermarkKey | Sequence[WatermarkKey],
    *,
    alpha: float = DEFAULT_ALPHA,
) -> WeightWatermarkDetection:
    """Does a model's weight difference from the original carry one of ``keys``' noise?

    ``psi`` is exactly N(0, 1) when the difference does not depend on the key (e.g. a
    fine-tune of another recipient's copy or of the original); a copy of a marked model,
    fine-tuned, quantized or merged, keeps most of ``<xi, delta>``.
    """
    key_list = _check(keys, alpha)
    delta = weight_delta(ref, derivative_dir)
    psis = ref.scheme.statistic(delta, ref.stds, key_list)
    same = all(not np.any(d) for d in delta.values())
    return _report(psis, key_list, ref, evidence="weights", n_tokens=0, alpha=alpha, too_short=same)


__all__ = [
    "MIN_TOKENS",
    "RECIPIENT_PREFIX",
    "adjust_max",
    "detect_derivative",
    "detect_text_weights",
    "recipient_key",
    "scores_of_text",
]
