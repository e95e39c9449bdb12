"""KGW green-list watermarking (Kirchenbauer et al., 2023), native variant.

A candidate token is *green* when a keyed hash of (context tokens, candidate) maps to a
uniform below ``gamma``; generation adds ``delta`` to green logits; detection counts
green tokens, Binomial(n, gamma) under the null. Green membership is computed per
candidate, never as a vocabulary-sized list, so detection cost does not depend on the
vocabulary and generation only hashes the candidates it is given (e.g. the top-k).

``seeding="lefthash"`` hashes the ``context_width`` previous tokens with the candidate.
``seeding="selfhash"`` is the anchored min-hash of the paper's Algorithm 3: the seed is
the minimum over the window (previous tokens and the candidate itself) of a keyed hash
anchored on the candidate, which survives edits to the non-minimal window tokens.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.watermark.hashing import chain_hash, key_words, unit_below
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


class KGWParams(SchemeParams):
    gamma: float = Field(0.25, gt=0.0, lt=1.0, description="green fraction of the vocabulary")
    delta: float = Field(2.0, ge=0.0, description="logit bias added to green tokens")
    context_width: int = Field(1, ge=1, le=16, description="previous tokens hashed")
    seeding: Literal["lefthash", "selfhash"] = "lefthash"


def _selfhash_words(material: bytes) -> tuple[int, int]:
    digest = hashlib.sha256(b"weightwatch/kgw/selfhash\x00" + material).digest()
    return key_words(digest)


class KGW(WatermarkScheme):
    name: ClassVar[str] = "kgw"
    params_model: ClassVar[type[SchemeParams]] = KGWParams
    kind: ClassVar[str] = "bias"
    params: KGWParams

    @property
    def context_width(self) -> int:
        return self.params.context_width

    @property
    def null(self) -> NullDistribution:
        return BinomialNull(self.params.gamma)

    def _words(
        self, context: list[npt.NDArray[np.int64]], tokens: IntArray, key: WatermarkKey
    ) -> U64:
        """Hash words of (context columns, tokens); equal inputs give equal words."""
        kw = key_words(key.material)
        if self.params.seeding == "lefthash":
            return chain_hash(kw, [*context, tokens])
        seed = chain_hash(kw, (tokens, tokens))
        for column in context:
            np.minimum(seed, chain_hash(kw, (column, tokens)), out=seed)
        return chain_hash(_selfhash_words(key.material), (seed, tokens))

    def score(self, token_ids: npt.ArrayLike, key: WatermarkKey) -> TokenScores:
        self.check_key(key)
        ids = as_token_array(token_ids)
        h, n = self.context_width, ids.shape[0]
        if n <= h:
            return empty_scores(h)
        context = [ids[j : n - h + j] for j in range(h)]
        words = self._words(context, ids[h:], key)
        green = unit_below(words, self.params.gamma).astype(np.float64)
        return TokenScores(values=green, dedup=words, offset=h)

    def green_mask(
        self, context_ids: IntArray, candidate_ids: IntArray, key: WatermarkKey
    ) -> npt.NDArray[np.bool_]:
        """Which candidates (B, K) are green after each row's context (B, T >= h)."""
        h = self.context_width
        t = context_ids.shape[1]
        context = [context_ids[:, t - h + j, None] for j in range(h)]
        return unit_below(self._words(context, candidate_ids, key), self.params.gamma)

    def process_logits(
        self,
        context_ids: IntArray,
        candidate_ids: IntArray,
        candidate_logits: F64,
        key: WatermarkKey,
    ) -> F64:
        self.check_key(key)
        if context_ids.shape[1] < self.context_width:
            return candidate_logits  # too little context to seed: leave unwatermarked
        green = self.green_mask(context_ids, candidate_ids, key)
        out = np.array(candidate_logits, copy=True)  # keeps the caller's float dtype
        np.add(out, self.params.delta, out=out, where=green)
        return out


SCHEMES = (KGW,)

__all__ = ["KGW", "SCHEMES", "KGWParams"]
