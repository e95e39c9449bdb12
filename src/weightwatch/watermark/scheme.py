"""The watermark scheme interface and the registry that finds schemes.

A scheme turns a key and a token sequence into per-token statistics whose null law is
known exactly (``score`` + ``null``), and changes next-token logits at generation time
(``process_logits``). Each scheme lives in its own module of this package exporting
``SCHEMES``; the package registers them in ``registry()`` when imported (from its
``__init__``: this module is the schemes' base and never imports them), so adding a scheme
is a new file, never an edit to a dispatcher.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from weightwatch.errors import UsageError
from weightwatch.plugins import Registry
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.nulls import NullDistribution

IntArray = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class SchemeParams(BaseModel):
    """Base of every scheme's parameters: frozen, validated, JSON-stable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class TokenScores:
    """Per-token statistics of one sequence.

    ``values[i]`` scores token ``offset + i``. ``dedup[i]`` identifies the hash input
    behind it: equal words mean the same input (hence the same value), so the detector
    counts each word once — repeated (context, token) pairs cannot inflate a score.
    """

    values: F64
    dedup: npt.NDArray[np.uint64]
    offset: int

    def first_occurrences(self) -> npt.NDArray[np.bool_]:
        """Mask of the tokens to score: the first occurrence of every hash input."""
        keep = np.zeros(self.values.shape[0], dtype=bool)
        if keep.size:
            _, first = np.unique(self.dedup, return_index=True)
            keep[first] = True
        return keep


class KeyedScheme:
    """What every scheme, sampling-time or in the weights, shares: its parameters, how it is
    built from them, how reports describe it, and the check that a key was derived for it."""

    name: ClassVar[str]
    params_model: ClassVar[type[SchemeParams]]

    def __init__(self, params: SchemeParams) -> None:
        self.params = params

    @classmethod
    def from_params(cls, **values: Any) -> Self:
        try:
            params = cls.params_model(**values)
        except ValidationError as exc:
            raise UsageError(f"invalid parameters for scheme {cls.name!r}: {exc}") from exc
        return cls(params)

    def describe(self) -> dict[str, Any]:
        """Name and parameters, as reports carry them."""
        return {"name": self.name, **self.params.model_dump(mode="json")}

    def check_key(self, key: WatermarkKey) -> None:
        if key.scheme != self.name:
            raise UsageError(
                f"key {key.key_id} was derived for scheme {key.scheme!r}, not {self.name!r}",
                hint="derive a key for this scheme: master.derive(name, scheme=...)",
            )


class WatermarkScheme(KeyedScheme, ABC):
    """One watermarking method with fixed parameters."""

    name: ClassVar[str]
    params_model: ClassVar[type[SchemeParams]]
    #: "bias" schemes shift logits (distortionary); "sampler" schemes pick the token;
    #: "reweight" schemes return the log of a new distribution to sample from as is.
    kind: ClassVar[str]

    @property
    @abstractmethod
    def context_width(self) -> int:
        """How many tokens before a token its statistic reads (tokens never scored)."""

    @property
    @abstractmethod
    def null(self) -> NullDistribution:
        """The exact law of one deduplicated token's statistic under the null."""

    @abstractmethod
    def score(self, token_ids: npt.ArrayLike, key: WatermarkKey) -> TokenScores:
        """Statistics of every scoreable token, vectorised over the sequence."""

    @abstractmethod
    def process_logits(
        self,
        context_ids: IntArray,
        candidate_ids: IntArray,
        candidate_logits: F64,
        key: WatermarkKey,
    ) -> F64:
        """New logits for the candidates of each row (batch-aware generation hook).

        ``context_ids`` is (B, T); ``candidate_ids`` and ``candidate_logits`` are (B, K)
        (all of the vocabulary, or the top-k); logits may be float32 or float64 and
        bias schemes keep their dtype. Sampler schemes return 0 for the chosen
        token and -inf elsewhere; reweight schemes return log-probabilities.
        """


def as_token_array(token_ids: npt.ArrayLike) -> IntArray:
    """Validate a 1-D sequence of non-negative token ids."""
    try:
        arr = np.asarray(token_ids)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"token ids must be a sequence of integers: {exc}") from exc
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"token ids must be a 1-D integer sequence, got {arr.dtype} {arr.shape}")
    if int(arr.min()) < 0:
        raise UsageError("token ids must be non-negative")
    return arr.astype(np.int64, copy=False)


def empty_scores(offset: int) -> TokenScores:
    return TokenScores(np.zeros(0, np.float64), np.zeros(0, np.uint64), offset)


_SCHEMES: Registry[type[WatermarkScheme]] = Registry(
    "watermark scheme", key=lambda cls: cls.name, export="SCHEMES"
)


def registry() -> Registry[type[WatermarkScheme]]:
    """Every scheme class, by name; ``register`` adds one from outside this package."""
    return _SCHEMES


def get_scheme(name: str, **params: Any) -> WatermarkScheme:
    """Build a registered scheme by name: ``get_scheme("kgw", gamma=0.25, delta=2.0)``."""
    return _SCHEMES.lookup(name).from_params(**params)


__all__ = [
    "SchemeParams",
    "TokenScores",
    "WatermarkScheme",
    "as_token_array",
    "empty_scores",
    "get_scheme",
    "registry",
]
