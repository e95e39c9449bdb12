"""Weight watermarks: the interface, their registry, the record an embedded copy carries.

A *weight* scheme changes a model's weights once, with a key, so that text sampled from
the weights (with any sampler, no processor) carries a signal the key holder can test.
Schemes live in their own modules of this package and export ``WEIGHT_SCHEMES``; the
package registers them when imported, through the same plugin mechanism (and the same
``MasterSecret.derive`` keys) as the sampling-time schemes in ``scheme``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from weightwatch.plugins import Registry
from weightwatch.reports import Record, Report
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.scheme import KeyedScheme

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

RECORD_FILE = "weightwatch-watermark.json"


class MarkedTensor(Record):
    """One weight matrix the mark changed, and the standard deviation of its noise."""

    name: str
    shape: tuple[int, ...]
    std: float


class WeightMarkRecord(Report):
    """What ``embed`` did to a folder: written beside the weights as ``RECORD_FILE``.

    It names the key only by its public id; the detector needs it to rebuild the
    original weights (marked minus the keyed noise) when no original copy is at hand.
    """

    schema_version: Literal["1"] = "1"
    format: Literal["weightwatch-weight-watermark/1"] = "weightwatch-weight-watermark/1"
    scheme: str
    params: dict[str, Any]
    key_id: str
    deployment: str
    rotation: int
    tensors: tuple[MarkedTensor, ...]


class WeightScheme(KeyedScheme, ABC):
    """A keyed change of a model's weights and the test that finds it in text.

    Two kinds: ``PerturbationScheme`` adds keyed noise to chosen matrices (GaussMark);
    a *trained* scheme (``distill``) fine-tunes the whole model so that its own sampling
    carries a keyed token-level signal. ``weightio.embed_folder`` handles both.
    """


class PerturbationScheme(WeightScheme, ABC):
    """A keyed change of chosen weight matrices, one tensor at a time."""

    @abstractmethod
    def select(self, shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
        """The names of the tensors this scheme marks, among a model's tensors."""

    @abstractmethod
    def perturbation(
        self, key: WatermarkKey, name: str, shape: tuple[int, ...], rms: float
    ) -> tuple[F32, float]:
        """The keyed change of one tensor (whose root-mean-square is ``rms``) and its std."""


_WEIGHT_SCHEMES: Registry[type[WeightScheme]] = Registry(
    "weight watermark scheme", key=lambda cls: cls.name, export="WEIGHT_SCHEMES"
)


def weight_registry() -> Registry[type[WeightScheme]]:
    """Every weight scheme class, by name."""
    return _WEIGHT_SCHEMES


def get_weight_scheme(name: str, **params: Any) -> WeightScheme:
    return _WEIGHT_SCHEMES.lookup(name).from_params(**params)


__all__ = [
    "RECORD_FILE",
    "MarkedTensor",
    "PerturbationScheme",
    "WeightMarkRecord",
    "WeightScheme",
    "get_weight_scheme",
    "weight_registry",
]
