"""Gumbel / exponential-minimum sampling (Aaronson 2022; Kuditipudi et al. 2023 family).

Each candidate ``i`` gets ``r_i`` in (0, 1) from a keyed hash of (context, candidate);
the next token is ``argmax r_i ** (1 / p_i)``, which samples exactly from ``p`` over
the randomness of the key (no distortion of any single draw). The chosen token's
``r`` is pushed towards 1, so detection sums ``-log(1 - r_t)``: Exp(1) per token and
Gamma(n, 1) in total under the null. Given the same context and distribution the
choice is deterministic — repeated pairs are counted once by the detector.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.watermark.hashing import chain_hash, key_words, to_open_unit
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.nulls import GammaNull, NullDistribution
from weightwatch.watermark.scheme import (
    F64,
    IntArray,
    SchemeParams,
    TokenScores,
    WatermarkScheme,
    as_token_array,
    empty_scores,
)


class GumbelParams(SchemeParams):
    context_width: int = Field(1, ge=1, le=16, description="previous tokens hashed")
    temperature: float = Field(1.0, gt=0.0, description="sampling temperature")


class Gumbel(WatermarkScheme):
    name: ClassVar[str] = "gumbel"
    params_model: ClassVar[type[SchemeParams]] = GumbelParams
    kind: ClassVar[str] = "sampler"
    params: GumbelParams

    @property
    def context_width(self) -> int:
        return self.params.context_width

    @property
    def null(self) -> NullDistribution:
        return GammaNull()

    def score(self, token_ids: npt.ArrayLike, key: WatermarkKey) -> TokenScores:
        self.check_key(key)
        ids = as_token_array(token_ids)
        h, n = self.context_width, ids.shape[0]
        if n <= h:
            return empty_scores(h)
        words = chain_hash(
            key_words(key.material), [ids[j : n - h + j] for j in range(h)] + [ids[h:]]
        )
        r = to_open_unit(words)
        return TokenScores(values=-np.log1p(-r), dedup=words, offset=h)

    def uniforms(self, context_ids: IntArray, candidate_ids: IntArray, key: WatermarkKey) -> F64:
        """The keyed ``r`` of each candidate (B, K) after each row's context (B, T >= h)."""
        h, t = self.context_width, context_ids.shape[1]
        parts = [context_ids[:, t - h + j, None] for j in range(h)] + [candidate_ids]
        return to_open_unit(chain_hash(key_words(key.material), parts))

    def process_logits(
        self,
        context_ids: IntArray,
        candidate_ids: IntArray,
        candidate_logits: F64,
        key: WatermarkKey,
    ) -> F64:
        self.check_key(key)
        if context_ids.shape[1] < self.context_width:
            return candidate_logits
        z = candidate_logits.astype(np.float64) / self.params.temperature
        z -= np.max(z, axis=1, keepdims=True)
        p = np.exp(z)
        p /= np.sum(p, axis=1, keepdims=True)
        log_r = np.log(self.uniforms(context_ids, candidate_ids, key))
        with np.errstate(divide="ignore"):
            race = np.where(p > 0, log_r / np.where(p > 0, p, 1.0), -np.inf)
        chosen = np.argmax(race, axis=1)
        out = np.full(candidate_logits.shape, -np.inf, dtype=np.float64)
        np.put_along_axis(out, chosen[:, None], 0.0, axis=1)
        return out


SCHEMES = (Gumbel,)

__all__ = ["SCHEMES", "Gumbel", "GumbelParams"]
