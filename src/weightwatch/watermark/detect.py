"""The detector: exact p-values for "was this text generated with this key?".

The null hypothesis is that the token sequence does not depend on the key. Repeated
hash inputs are counted once, so under the null the scored statistics are independent
and their sum has an exact law (``nulls``); the p-value is its upper tail — no normal
approximation (the z-score is reported for comparison only). Testing several keys is
adjusted by Bonferroni or Šidák (exact for independent keys); windowed search by
Bonferroni over every window (``windows``).

Text input is tokenized with the deployment's ``tokenizer.json``. A decode/encode round
trip need not give back the generated ids (merges across the boundaries of edits,
normalisation, special tokens), so detection on re-tokenized text loses some scored
tokens or their alignment — it weakens the evidence, it does not fake it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark import windows as win
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.nulls import BinomialNull, z_score
from weightwatch.watermark.report import Correction, WatermarkDetection, WatermarkSpan
from weightwatch.watermark.scheme import WatermarkScheme, as_token_array

DEFAULT_ALPHA = 1e-3
DEFAULT_MIN_SCORED = 16


@dataclass(frozen=True)
class _KeyResult:
    key: WatermarkKey
    n_scored: int
    score: float
    p_whole: float
    log10_whole: float
    p_best: float  # min over the whole text and every window
    log10_best: float
    scan: win.WindowScan | None
    values: npt.NDArray[np.float64]
    keep: npt.NDArray[np.bool_]
    offset: int


def _test_key(
    ids: npt.NDArray[np.int64],
    scheme: WatermarkScheme,
    key: WatermarkKey,
    *,
    window_sizes: Sequence[int] | None,
    min_scored: int,
) -> _KeyResult:
    scores = scheme.score(ids, key)
    keep = scores.first_occurrences()
    n = int(keep.sum())
    s = float(scores.values[keep].sum())
    null = scheme.null
    p = float(null.sf(s, n)) if n else 1.0
    log10_p = null.log10_sf(s, n) if n else 0.0
    scan = None
    p_best, log10_best = p, log10_p
    if window_sizes is not None:
        scan = win.scan(scores.values, keep, null, sizes=window_sizes, min_scored=min_scored)
        if scan.count and scan.min_p < p_best:
            w = int(np.argmin(scan.p_values))
            lo, hi = int(scan.starts[w]), int(scan.stops[w])
            w_keep = keep[lo:hi]
            p_best = scan.min_p
            log10_best = null.log10_sf(float(scores.values[lo:hi][w_keep].sum()), int(w_keep.sum()))
    return _KeyResult(
        key, n, s, p, log10_p, p_best, log10_best, scan, scores.values, keep, scores.offset
    )


def adjust_keys(p: float, log10_p: float, m: int, correction: Correction) -> tuple[float, float]:
    """The p-value of the best of ``m`` independent tests (one per key), Šidák or Bonferroni."""
    if m == 1:
        return p, log10_p
    bonferroni = min(1.0, p * m), min(0.0, log10_p + math.log10(m))
    if correction == "sidak" and p > 0.0:
        adj = -math.expm1(m * math.log1p(-p))  # 1 - (1 - p)^m without cancellation
        return adj, math.log10(adj)
    return bonferroni  # also Šidák's value to first order once p underflows


def detect(
    token_ids: npt.ArrayLike,
    *,
    scheme: WatermarkScheme,
    keys: WatermarkKey | Sequence[WatermarkKey],
    alpha: float = DEFAULT_ALPHA,
    min_scored: int = DEFAULT_MIN_SCORED,
    correction: Correction = "bonferroni",
    windows: Sequence[int] | None = None,
) -> WatermarkDetection:
    """Test a token sequence (generated tokens only, no prompt) against one or more keys.

    ``windows`` (sizes in tokens, e.g. ``windows.DEFAULT_WINDOWS``) also searches for
    watermarked spans; the reported p-value is then adjusted for every window tested.
    """
    key_list = [keys] if isinstance(keys, WatermarkKey) else list(keys)
    if not key_list:
        raise UsageError("detect() needs at least one key")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie in (0, 1), not {alpha}")
    if min_scored < 1:
        raise UsageError("min_scored must be at least 1")
    if windows is not None and (not windows or min(windows) < 1):
        raise UsageError("window sizes must be positive integers")
    ids = as_token_array(token_ids)
    results = [
        _test_key(ids, scheme, k, window_sizes=windows, min_scored=min_scored) for k in key_list
    ]
    best = min(results, key=lambda r: (r.log10_best, r.log10_whole))
    windows_tested = best.scan.count if best.scan is not None else 0
    per_key_tests = 1 + windows_tested
    p_key = win.bonferroni(best.p_best, per_key_tests)
    log10_key = win.log10_bonferroni(best.log10_best, per_key_tests)
    p_final, log10_final = adjust_keys(p_key, log10_key, len(key_list), correction)
    null = scheme.null
    span_list: tuple[WatermarkSpan, ...] = ()
    if best.scan is not None and best.scan.count:
        span_list = win.spans(
            best.scan,
            best.values,
            best.keep,
            null,
            offset=best.offset,
            tests=per_key_tests * len(key_list),
            alpha=alpha,
            keys=len(key_list),
        )
    if best.n_scored < min_scored and not span_list:
        verdict = "too_short"
    elif p_final <= alpha:
        verdict = "watermarked"
    else:
        verdict = "not_watermarked"
    return WatermarkDetection(
        scheme=scheme.name,
        params=scheme.describe(),
        key_id=best.key.key_id,
        keys_tested=len(key_list),
        n_tokens=int(ids.shape[0]),
        n_scored=best.n_scored,
        score=best.score,
        green_fraction=(
            best.score / (best.n_scored * null.trials)
            if isinstance(null, BinomialNull) and best.n_scored
            else None
        ),
        z=z_score(null, best.score, best.n_scored),
        p_value=p_final,
        log10_p_value=log10_final,
        p_value_unadjusted=best.p_whole,
        correction=correction,
        windows_tested=windows_tested,
        tests=per_key_tests * len(key_list),
        alpha=alpha,
        min_scored=min_scored,
        verdict=verdict,
        spans=span_list,
    )


def encode_text(text: str, tokenizer: str | Path, *, add_special_tokens: bool = False) -> list[int]:
    """Token ids of ``text`` with a ``tokenizer.json`` (or a folder holding one)."""
    path = Path(tokenizer)
    if path.is_dir():
        path = path / "tokenizer.json"
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise UsageError(
            "detecting text needs the tokenizers package", hint="install weightwatch[hf]"
        ) from exc
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type for bad files
        raise ArtifactError(path, f"cannot load tokenizer: {exc}") from exc
    ids: list[int] = tok.encode(text, add_special_tokens=add_special_tokens).ids
    return ids


def detect_text(
    text: str,
    tokenizer: str | Path,
    *,
    scheme: WatermarkScheme,
    keys: WatermarkKey | Sequence[WatermarkKey],
    alpha: float = DEFAULT_ALPHA,
    min_scored: int = DEFAULT_MIN_SCORED,
    correction: Correction = "bonferroni",
    windows: Sequence[int] | None = None,
) -> WatermarkDetection:
    """``detect`` on text re-tokenized with the deployment's tokenizer (see module doc)."""
    return detect(
        encode_text(text, tokenizer),
        scheme=scheme,
        keys=keys,
        alpha=alpha,
        min_scored=min_scored,
        correction=correction,
        windows=windows,
    )


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SCORED",
    "adjust_keys",
    "detect",
    "detect_text",
    "encode_text",
]
