"""Weight forensics: what was done to a derivative, read from the weight difference alone.

``diff_models(base, derivative)`` → ``DiffReport``: per-matrix kinds (``matrix``), a
permutation undone first where there is one (``align``), the derivation named, and the
abliteration score with its direction consistency across layers (``diff``).
"""

from weightwatch.forensics.diff import (
    ABLITERATION_THRESHOLD,
    DiffReport,
    diff_models,
    diff_tensors,
    load_tensors,
)
from weightwatch.forensics.matrix import MatrixDiff, classify_matrix

__all__ = [
    "ABLITERATION_THRESHOLD",
    "DiffReport",
    "MatrixDiff",
    "classify_matrix",
    "diff_models",
    "diff_tensors",
    "load_tensors",
]
