"""Text watermarking for hosted deployments: keys, schemes, the generation hook, detection.

Owns: ``keys`` (master secret, per-deployment HKDF keys, public key ids), ``scheme`` (the
interface and the registry of ``kgw``, ``kgw-hf``, ``gumbel``, ``tournament``), ``hf``
(the transformers logits processor), ``generation`` (a local-model convenience),
``detect`` (exact p-values, multi-key and windowed search, the ``WatermarkDetection``
report) and ``deployments`` (public deployment records, detection by key id). A watermark
is switched on at sampling time by whoever runs the model: it protects text from hosted
deployments, never released open weights.
"""

from __future__ import annotations

from weightwatch.watermark.deployments import KeyRing, WatermarkDeployment, detect_by_key_id
from weightwatch.watermark.detect import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_SCORED,
    detect,
    detect_text,
    encode_text,
)
from weightwatch.watermark.gumbel import Gumbel, GumbelParams
from weightwatch.watermark.hf import WatermarkLogitsProcessor
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.kgw import KGW, KGWParams
from weightwatch.watermark.kgw_hf import KGWHF, KGWHFParams, hashing_key_of
from weightwatch.watermark.nulls import BinomialNull, GammaNull, NullDistribution
from weightwatch.watermark.report import (
    SCHEMA_VERSION,
    WatermarkDetection,
    WatermarkSpan,
)
from weightwatch.watermark.scheme import (
    SchemeParams,
    TokenScores,
    WatermarkScheme,
    get_scheme,
    registry,
)
from weightwatch.watermark.tournament import Tournament, TournamentParams
from weightwatch.watermark.weightscheme import get_weight_scheme, weight_registry
from weightwatch.watermark.windows import DEFAULT_WINDOWS

# Register every scheme module's ``SCHEMES`` (a new scheme is a new file in this package).
registry().discover(__name__)
weight_registry().discover(__name__)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SCORED",
    "DEFAULT_WINDOWS",
    "KGW",
    "KGWHF",
    "SCHEMA_VERSION",
    "BinomialNull",
    "GammaNull",
    "Gumbel",
    "GumbelParams",
    "KGWHFParams",
    "KGWParams",
    "KeyRing",
    "MasterSecret",
    "NullDistribution",
    "SchemeParams",
    "TokenScores",
    "Tournament",
    "TournamentParams",
    "WatermarkDeployment",
    "WatermarkDetection",
    "WatermarkKey",
    "WatermarkLogitsProcessor",
    "WatermarkScheme",
    "WatermarkSpan",
    "detect",
    "detect_by_key_id",
    "detect_text",
    "encode_text",
    "get_scheme",
    "get_weight_scheme",
    "hashing_key_of",
    "registry",
    "weight_registry",
]
