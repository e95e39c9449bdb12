"""SynthID-style tournament sampling (Dathathri et al., Nature 2024), with an exact null.

Each (context, candidate) pair gets ``depth`` keyed fair bits, the *g-values* — the low
bits of one 64-bit keyed hash. Tournament sampling draws 2**depth candidates from the
model's distribution and plays a knock-out: in layer l, of each pair the one with the
higher g_l wins (a tie is broken at random). With two players per match the winner's law
has a closed form, applied layer by layer to the whole candidate distribution::

    p_{l+1}(x) = p_l(x) * (1 + g_l(x) - G_l),    G_l = sum_y p_l(y) g_l(y)

so generation is a reweighting of the candidates' probabilities (no 2**depth draws),
and is distortion-free over the randomness of the key: averaged over keys, every
layer's expected reweighting factor is 1.

Detection counts the g-value bits of each scored token. Under the null (the text does not
depend on the key) the bits of distinct hash inputs are independent fair coins, so the
count over ``n`` deduplicated tokens is exactly Binomial(n * depth, 1/2): an exact
p-value. SynthID's own detector instead uses a weighted mean or a learned Bayesian
posterior, which give no stated false-positive rate. The price of the exact count is
some power: once the tournament has concentrated the distribution on a few tokens,
late layers carry little signal but still count (choose ``depth`` accordingly).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.watermark.hashing import chain_hash, key_words, popcount
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.nulls import BinomialNull, NullDistribution
from weightwatch.watermark.scheme import (
    F64,
    IntArray,
    SchemeParams,
    TokenScores,
    WatermarkScheme,
    as_token_array,
    empty_scores,
)

U64 = npt.NDArray[np.uint64]


class TournamentParams(SchemeParams):
    depth: int = Field(30, ge=1, le=64, description="tournament layers (g-value bits per token)")
    # With 30 layers one key nearly fixes the next token given its context, so a
    # one-token context lets small models fall into loops; two tokens avoid most.
    context_width: int = Field(2, ge=1, le=16, description="previous tokens hashed")
    temperature: float = Field(1.0, gt=0.0, description="applied before the tournament")


class Tournament(WatermarkScheme):
    name: ClassVar[str] = "tournament"
    params_model: ClassVar[type[SchemeParams]] = TournamentParams
    kind: ClassVar[str] = "reweight"
    params: TournamentParams

    @property
    def context_width(self) -> int:
        return self.params.context_width

    @property
    def null(self) -> NullDistribution:
        return BinomialNull(0.5, trials=self.params.depth)

    @property
    def _mask(self) -> np.uint64:
        d = self.params.depth
        return np.uint64(2**64 - 1 if d == 64 else (1 << d) - 1)

    def score(self, token_ids: npt.ArrayLike, key: WatermarkKey) -> TokenScores:
        self.check_key(key)
        ids = as_token_array(token_ids)
        h, n = self.context_width, ids.shape[0]
        if n <= h:
            return empty_scores(h)
        words = chain_hash(
            key_words(key.material), [ids[j : n - h + j] for j in range(h)] + [ids[h:]]
        )
        ones = popcount(words & self._mask).astype(np.float64)
        return TokenScores(values=ones, dedup=words, offset=h)

    def _words(self, context_ids: IntArray, candidate_ids: IntArray, key: WatermarkKey) -> U64:
        h, t = self.context_width, context_ids.shape[1]
        parts = [context_ids[:, t - h + j, None] for j in range(h)] + [candidate_ids]
        return chain_hash(key_words(key.material), parts)

    def g_values(self, context_ids: IntArray, candidate_ids: IntArray, key: WatermarkKey) -> F64:
        """The g-values (B, K, depth) of each candidate after each row's context (B, T >= h)."""
        words = self._words(context_ids, candidate_ids, key)
        shifts = np.arange(self.params.depth, dtype=np.uint64)
        return ((words[..., None] >> shifts) & np.uint64(1)).astype(np.float64)

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
        words = self._words(context_ids, candidate_ids, key)
        for layer in range(self.params.depth):
            g = ((words >> np.uint64(layer)) & np.uint64(1)).astype(np.float64)
            mass = np.sum(p * g, axis=1, keepdims=True)
            p *= 1.0 + g - mass
        np.maximum(p, 0.0, out=p)  # rounding can leave -1e-17 where p was 0
        with np.errstate(divide="ignore"):
            return np.log(p)  # sample from this (temperature 1, no further warping)


SCHEMES = (Tournament,)

__all__ = ["SCHEMES", "Tournament", "TournamentParams"]
