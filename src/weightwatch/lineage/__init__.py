"""Lineage from weights alone: relate a model to registered ones by their fingerprints."""

from weightwatch.lineage.explain import Lineage, Parent, explain
from weightwatch.lineage.index import FingerprintIndex, Match
from weightwatch.lineage.pvalue import p_text
from weightwatch.lineage.relation import Comparison, Null, Nulls, compare, model_class

__all__ = [
    "Comparison",
    "FingerprintIndex",
    "Lineage",
    "Match",
    "Null",
    "Nulls",
    "Parent",
    "compare",
    "explain",
    "model_class",
    "p_text",
]
