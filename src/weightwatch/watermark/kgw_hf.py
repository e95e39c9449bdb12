"""KGW exactly as transformers implements it (``WatermarkingConfig`` / ``WatermarkDetector``).

Text generated with ``model.generate(..., watermarking_config=WatermarkingConfig(...))``
is detected here with the same green lists: transformers seeds a CPU ``torch.Generator``
from the hashing key and the context and takes the first ``int(V * ratio)`` ids of
``torch.randperm(V)``, so reproducing it needs torch (imported lazily) and one
permutation per distinct seed (cached). Differences from transformers' own detector:
the p-value is the exact binomial tail at ``gamma = int(V * ratio) / V``, and repeated
(seed, token) pairs are counted once (transformers counts repeats unless
``ignore_repeated_ngrams``, and then dedups whole n-grams, which share seeds).

Green lists drawn on a CUDA generator differ from CPU ones: detect text generated on a
GPU with the same device, not with this scheme.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.errors import UsageError
from weightwatch.watermark.hashing import pair_words
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

_TABLE_SIZE = 1_000_003
_SEED_MOD = 2**64 - 1
_REJECTION_CANDIDATES = 40  # transformers' selfhash only considers its top-40 predictions
_CACHE_BYTES = 64 * 2**20


class KGWHFParams(SchemeParams):
    vocab_size: int = Field(ge=2, description="model_config.vocab_size, as transformers uses")
    greenlist_ratio: float = Field(0.25, gt=0.0, lt=1.0)
    bias: float = Field(2.0, ge=0.0)
    seeding_scheme: Literal["lefthash", "selfhash"] = "lefthash"
    context_width: int = Field(1, ge=1, le=16)


def hashing_key_of(key: WatermarkKey) -> int:
    """The integer transformers' ``WatermarkingConfig(hashing_key=...)`` must be given."""
    return (int.from_bytes(key.material[:8], "little") & (2**62 - 1)) or 1


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise UsageError(
            "the kgw-hf scheme reproduces torch.randperm and needs torch",
            hint="install weightwatch[hf]",
        ) from exc
    return torch


class KGWHF(WatermarkScheme):
    name: ClassVar[str] = "kgw-hf"
    params_model: ClassVar[type[SchemeParams]] = KGWHFParams
    kind: ClassVar[str] = "bias"
    params: KGWHFParams

    def __init__(self, params: SchemeParams) -> None:
        super().__init__(params)
        self._masks: OrderedDict[int, npt.NDArray[np.bool_]] = OrderedDict()
        self._max_masks = max(16, _CACHE_BYTES // self.params.vocab_size)
        self._tables: dict[int, npt.NDArray[np.int64]] = {}

    @property
    def greenlist_size(self) -> int:
        return int(self.params.vocab_size * self.params.greenlist_ratio)

    @property
    def context_width(self) -> int:
        # selfhash scores a token from the (context_width - 1) tokens before it
        cw = self.params.context_width
        return cw - 1 if self.params.seeding_scheme == "selfhash" else cw

    @property
    def null(self) -> NullDistribution:
        return BinomialNull(self.greenlist_size / self.params.vocab_size)

    def watermarking_config(self, key: WatermarkKey) -> Any:
        """A transformers ``WatermarkingConfig`` that generates text this scheme detects."""
        from transformers import WatermarkingConfig

        return WatermarkingConfig(
            greenlist_ratio=self.params.greenlist_ratio,
            bias=self.params.bias,
            hashing_key=hashing_key_of(key),
            seeding_scheme=self.params.seeding_scheme,
            context_width=self.params.context_width,
        )

    # -- transformers' seeding, reproduced -------------------------------------------

    def _mask(self, seed: int) -> npt.NDArray[np.bool_]:
        mask = self._masks.get(seed)
        if mask is not None:
            self._masks.move_to_end(seed)
            return mask
        torch = _torch()
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        perm = torch.randperm(self.params.vocab_size, generator=gen).numpy()
        mask = np.zeros(self.params.vocab_size, dtype=bool)
        mask[perm[: self.greenlist_size]] = True
        self._masks[seed] = mask
        if len(self._masks) > self._max_masks:
            self._masks.popitem(last=False)
        return mask

    def _table(self, hashing_key: int) -> npt.NDArray[np.int64]:
        table = self._tables.get(hashing_key)
        if table is None:
            torch = _torch()
            gen = torch.Generator(device="cpu")
            gen.manual_seed(hashing_key)
            table = torch.randperm(_TABLE_SIZE, generator=gen).numpy().astype(np.int64)
            self._tables = {hashing_key: table}  # one key at a time is the common case
        return table

    def _seeds(self, windows: IntArray, hashing_key: int) -> npt.NDArray[np.uint64]:
        """transformers' ``set_seed`` for each row of ``windows`` (N, context_width)."""
        if self.params.seeding_scheme == "lefthash":
            last = windows[:, -1]
            uniq, inverse = np.unique(last, return_inverse=True)
            seeds = [(hashing_key * int(t)) % _SEED_MOD for t in uniq]
        else:
            table = self._table(hashing_key)
            a = table[windows % _TABLE_SIZE] + 1
            b = table[windows[:, -1] % _TABLE_SIZE] + 1
            with np.errstate(over="ignore"):
                prod = (np.int64(hashing_key) * a) * b[:, None]  # int64 wrap-around, as torch
            low = prod.min(axis=1)
            uniq, inverse = np.unique(low, return_inverse=True)
            seeds = [int(s) % _SEED_MOD for s in uniq]
        return np.asarray(seeds, dtype=np.uint64)[inverse.reshape(-1)]

    def _green(self, seeds: npt.NDArray[np.uint64], tokens: IntArray) -> npt.NDArray[np.bool_]:
        green = np.zeros(tokens.shape[0], dtype=bool)
        in_vocab = tokens < self.params.vocab_size
        uniq, inverse = np.unique(seeds, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(uniq.shape[0] + 1))
        for i, seed in enumerate(uniq.tolist()):
            idx = order[bounds[i] : bounds[i + 1]]
            idx = idx[in_vocab[idx]]
            green[idx] = self._mask(int(seed))[tokens[idx]]
        return green

    # -- the scheme interface ---------------------------------------------------------

    def score(self, token_ids: npt.ArrayLike, key: WatermarkKey) -> TokenScores:
        self.check_key(key)
        ids = as_token_array(token_ids)
        cw, n = self.params.context_width, ids.shape[0]
        # lefthash windows end at the previous token; selfhash windows end at the token
        lead = self.context_width
        if n <= lead or n < cw:
            return empty_scores(lead)
        end = 0 if self.params.seeding_scheme == "lefthash" else 1
        count = n - lead
        starts = np.arange(count) + lead - cw + end
        windows = ids[starts[:, None] + np.arange(cw)[None, :]]
        tokens = ids[lead:]
        seeds = self._seeds(windows, hashing_key_of(key))
        green = self._green(seeds, tokens).astype(np.float64)
        return TokenScores(values=green, dedup=pair_words(seeds, tokens), offset=lead)

    def process_logits(
        self,
        context_ids: IntArray,
        candidate_ids: IntArray,
        candidate_logits: F64,
        key: WatermarkKey,
    ) -> F64:
        self.check_key(key)
        cw = self.params.context_width
        if context_ids.shape[1] < cw:
            return candidate_logits
        hk = hashing_key_of(key)
        out = candidate_logits.astype(np.float64, copy=True)
        in_vocab = candidate_ids < self.params.vocab_size
        if self.params.seeding_scheme == "lefthash":
            seeds = self._seeds(context_ids[:, -cw:], hk)
            for row, seed in enumerate(seeds.tolist()):
                cand = np.where(in_vocab[row], candidate_ids[row], 0)
                out[row] += self.params.bias * (self._mask(int(seed))[cand] & in_vocab[row])
            return out
        k = min(_REJECTION_CANDIDATES, candidate_ids.shape[1])
        top = np.argsort(-candidate_logits, axis=1, kind="stable")[:, :k]
        for row in range(out.shape[0]):
            cands = candidate_ids[row, top[row]]
            prefix = np.broadcast_to(context_ids[row, context_ids.shape[1] - cw + 1 :], (k, cw - 1))
            windows = np.concatenate([prefix, cands[:, None]], axis=1)
            seeds = self._seeds(windows, hk)
            green = self._green(seeds, cands)
            out[row, top[row][green]] += self.params.bias
        return out


SCHEMES = (KGWHF,)

__all__ = ["KGWHF", "SCHEMES", "KGWHFParams", "hashing_key_of"]
