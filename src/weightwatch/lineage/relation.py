"""Compare two fingerprints: a similarity score, its null probability, the likely relation.

The score is the mean Pearson correlation (off-diagonal entries) of the invariant anchor
matrices, each whitened by its model's own anchor Gram, over aligned layers (a monotone
alignment, so dropped or duplicated layers still line up). What unrelated models score
is estimated from unrelated pairs and kept as a sample of Fisher-z transformed scores
(``Null``); a registry re-fits it on its own population, since unrelated models
trained on similar data share structure.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from weightwatch.fingerprint.model import KINDS, Fingerprint
from weightwatch.lineage.blocks import BlockTest, block_test
from weightwatch.lineage.pvalue import Null, Nulls, log10_adjusted, model_class, p_from_log10
from weightwatch.reports import Record, Report

__all__ = [
    "RELATIONS",
    "BlockTest",
    "Comparison",
    "LayerMatch",
    "Null",
    "Nulls",
    "compare",
    "model_class",
]

MIN_SHARED = 32
IDENTICAL = 0.99999
QUANTIZED = 0.9  # int4 copies score >= 0.94, a quantized fine-tune ~0.82 (benchmarks)
PRUNED = 0.1  # the child's weights hold this many more exact zeros than the parent's
MERGE_SHARE = 0.6  # a merge keeps this fraction or less of the parent's invariants
RELATIONS = (
    "identical",
    "quantized",
    "pruned",
    "finetune",
    "adapter",
    "merge",
    "unrelated",
)
Test = Literal["both", "fitted", "blocks"]
UNDECLARED = "but the card declares no base_model"  # the disagreement policy names itself


class LayerMatch(Record):
    parent_layer: int
    child_layer: int
    r: float


class Comparison(Report):
    """How ``child`` relates to ``parent``; the JSON form is stable (``schema_version``)."""

    parent: str
    child: str
    score: float
    p_value: float  # floored at 2.2e-308 (a bound); ``log10_p`` is exact
    log10_p: float  # the verdict's: the tests run, Bonferroni-combined
    log10_p_fitted: float | None  # the anchor score against the fitted null
    blocks: BlockTest | None  # the population-free shared-units test
    verdict: str  # "derived" | "unrelated"
    relation: str  # one of RELATIONS
    per_kind: dict[str, float]
    embedding_r: float
    parent_share: float  # child invariants regressed on the parent's: ~1 kept, ~0.25 merged
    shared_anchors: int
    layers: list[LayerMatch]
    declared_base_model: list[str]
    declared_relation: str | None
    disagreements: list[str]


def _pearson(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    x = a.astype(np.float64).ravel()
    y = b.astype(np.float64).ravel()
    x -= x.mean()
    y -= y.mean()
    den = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / den if den > 0 else 0.0


def _whitened(
    fp: Fingerprint, idx: npt.NDArray[np.int64], kinds: list[str], off: npt.NDArray[np.bool_]
) -> dict[str, list[npt.NDArray[np.float64]]]:
    """Each layer matrix over the anchors ``idx``, whitened, off-diagonal entries centred
    and scaled to unit norm (so a Pearson r is one dot product); cached on the fingerprint,
    since an index compares one fingerprint with many."""
    key = ("whitened", idx.tobytes(), tuple(kinds))
    if key not in fp.cache:
        sub = np.ix_(idx, idx)
        w = _whitener(fp.emb[sub])
        out: dict[str, list[npt.NDArray[np.float64]]] = {}
        for k in kinds:
            vecs = []
            for layer in fp.layers[k]:
                v = (w @ layer[sub].astype(np.float64) @ w)[off]
                v = v - v.mean()
                n = float(np.linalg.norm(v))
                vecs.append(v / n if n > 0 else v)
            out[k] = vecs
        fp.cache[key] = out
    result: dict[str, list[npt.NDArray[np.float64]]] = fp.cache[key]
    return result


def _whitener(gram: npt.NDArray[np.float32], eps: float = 1e-3) -> npt.NDArray[np.float64]:
    """G^(-1/2) of the anchors' embedding Gram (eigenvalues floored at eps x the largest).

    An invariant matrix is X A Xᵀ: the anchors' own similarity (X Xᵀ) shows through any
    A, and unrelated models trained on the same data have similar X Xᵀ. Whitening by
    each model's own Gram leaves A as seen from the anchors' span, so two models agree
    only when their weights do.
    """
    w, v = np.linalg.eigh(gram.astype(np.float64))
    floor = eps * max(float(w.max()), 1e-12)
    out: npt.NDArray[np.float64] = (v * (1.0 / np.sqrt(np.maximum(w, floor)))) @ v.T
    return out


def _align(r: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    """Monotone map of each child layer to a parent layer (non-decreasing) maximising Σr."""
    n_parent, n_child = r.shape
    best = np.full((n_parent, n_child), -np.inf)
    back = np.zeros((n_parent, n_child), dtype=np.int64)
    best[:, 0] = r[:, 0]
    for j in range(1, n_child):
        run = np.maximum.accumulate(best[:, j - 1])
        arg = np.zeros(n_parent, dtype=np.int64)
        for i in range(1, n_parent):
            arg[i] = i if best[i, j - 1] >= run[i - 1] else arg[i - 1]
        best[:, j] = run + r[:, j]
        back[:, j] = arg
    i = int(np.argmax(best[:, -1]))
    path = [(i, n_child - 1)]
    for j in range(n_child - 1, 0, -1):
        i = int(back[i, j])
        path.append((i, j - 1))
    return path[::-1]


def compare(
    parent: Fingerprint,
    child: Fingerprint,
    *,
    nulls: Nulls | None = None,
    alpha: float = 1e-3,
    test: Test = "both",
    parent_name: str | None = None,
    child_name: str | None = None,
    parent_id: str | None = None,
) -> Comparison:
    """Score, p-value and relation of ``child`` to ``parent``.

    ``parent_id`` is the parent's registered name (``namespace/name``), checked against the
    card's ``base_model``; ``parent_name`` only labels the report. ``test`` picks the
    p-value: ``both`` (the default: the smaller of the two below, doubled — Bonferroni,
    valid whenever either test is), ``fitted`` (anchor score against the fitted null) or
    ``blocks`` (the population-free shared-units test, ``lineage.blocks``). Where the
    shared-units test cannot run (no stored units, a single layer) ``both`` is the fitted
    null alone.
    """
    null = (nulls or Nulls.default()).for_pair(parent, child)
    pos = {a: i for i, a in enumerate(child.anchors)}
    shared = [(i, pos[a]) for i, a in enumerate(parent.anchors) if a in pos]
    ia = np.array([s[0] for s in shared], dtype=np.int64)
    ib = np.array([s[1] for s in shared], dtype=np.int64)
    kinds = [k for k in KINDS if k in parent.layers and k in child.layers]
    share = 0.0
    if len(shared) < MIN_SHARED or not kinds or not parent.n_layers or not child.n_layers:
        score, per_kind, layers, emb_r = 0.0, {}, [], 0.0
    else:
        sub = np.ix_(ia, ia), np.ix_(ib, ib)
        off = ~np.eye(len(shared), dtype=bool)
        pa, pb = _whitened(parent, ia, kinds, off), _whitened(child, ib, kinds, off)
        rs = {k: np.array([[float(a @ b) for b in pb[k]] for a in pa[k]]) for k in kinds}
        combined = np.mean([rs[k] for k in kinds], axis=0)
        path = _align(combined)
        layers = [
            LayerMatch(parent_layer=i, child_layer=j, r=float(combined[i, j])) for i, j in path
        ]
        score = float(np.mean([m.r for m in layers]))
        per_kind = {k: float(np.mean([rs[k][i, j] for i, j in path])) for k in kinds}
        emb_r = _pearson(parent.emb[sub[0]][off], child.emb[sub[1]][off])
        share = _share(parent, child, sub, kinds, path)
    fitted = null.log10_p(score) if test != "blocks" else None
    blocks = block_test(parent, child) if test != "fitted" else None
    ran = [p for p in (fitted, blocks.log10_p if blocks else None) if p is not None]
    log10_p = log10_adjusted(min(ran), len(ran)) if ran else 0.0
    derived = log10_p < math.log10(alpha)
    anchors = fitted is None or fitted < math.log10(alpha) or not blocks
    relation = _relation(parent, child, score, emb_r, share, derived, anchors=anchors)
    declared = [str(b) for b in child.info.get("declared_base_model", [])]
    declared_rel = child.info.get("declared_relation")
    return Comparison(
        parent=parent_name or str(parent.info.get("source", "parent")),
        child=child_name or str(child.info.get("source", "child")),
        score=score,
        p_value=p_from_log10(log10_p),
        log10_p=log10_p,
        log10_p_fitted=fitted,
        blocks=blocks,
        verdict="derived" if derived else "unrelated",
        relation=relation,
        per_kind=per_kind,
        embedding_r=emb_r,
        parent_share=share,
        shared_anchors=len(shared),
        layers=layers,
        declared_base_model=declared,
        declared_relation=declared_rel if isinstance(declared_rel, str) else None,
        disagreements=disagreements_for(relation, declared, declared_rel, parent_id),
    )


def _share(
    parent: Fingerprint,
    child: Fingerprint,
    sub: tuple[Any, Any],
    kinds: list[str],
    path: list[tuple[int, int]],
) -> float:
    """How much of the parent's (unwhitened) invariants the child keeps: the median, over
    aligned layers and kinds, of the least-squares slope of child on parent entries.

    A fine-tune, a quantized or a pruned copy keeps about all of it (~1); a 50/50 merge
    with an unrelated model keeps (1/2)^2 of each bilinear product, seen through anchor
    embeddings that are themselves averaged (~0.1-0.3; SLERP ~0.3-0.5). The invariants
    are unchanged by rotation, permutation and rescaling, so the slope is too.
    """
    slopes = []
    for k in kinds:
        for i, j in path:
            p = parent.layers[k][i][sub[0]].astype(np.float64)
            c = child.layers[k][j][sub[1]].astype(np.float64)
            den = float((p * p).sum())
            if den > 0:
                slopes.append(float((c * p).sum()) / den)
    return float(np.median(slopes)) if slopes else 0.0


def _relation(
    parent: Fingerprint,
    child: Fingerprint,
    score: float,
    emb_r: float,
    share: float,
    derived: bool,
    *,
    anchors: bool = True,
) -> str:
    """Name a significant relation from what the weights show (never from the card).

    ``anchors`` is false when only the blocks are shared (new token embeddings): the
    anchor statistics then say nothing about the relation, and a model that kept the
    blocks and retrained the rest is a fine-tune."""
    if not derived:
        return "unrelated"
    if not anchors:
        return "finetune"
    same_shape = parent.n_layers == child.n_layers and parent.info.get("hidden") == child.info.get(
        "hidden"
    )
    q_parent, q_child = bool(parent.info.get("quantized")), bool(child.info.get("quantized"))
    if score >= IDENTICAL and emb_r >= IDENTICAL and same_shape:
        return "quantized" if q_child and not q_parent else "identical"
    zeros = float(child.info.get("zero_fraction", 0.0)) - float(
        parent.info.get("zero_fraction", 0.0)
    )
    # Low-bit grids round small weights to 0: extra zeros mean pruning only when the
    # parent is stored the same way (both float, or both quantized).
    if zeros >= PRUNED and q_child == q_parent:
        return "pruned"
    # Against a quantized parent too: an int8 copy of a Q4 GGUF is a quantized copy of it.
    if score >= QUANTIZED and q_child:
        return "quantized"
    if zeros >= PRUNED:
        return "pruned"
    if share <= MERGE_SHARE:
        return "merge"
    return "finetune"


def disagreements_for(
    relation: str, declared: list[str], declared_rel: Any, parent_name: str | None
) -> list[str]:
    out: list[str] = []
    if relation == "unrelated":
        return out
    if not declared:
        out.append(f"derived ({relation}) {UNDECLARED}")
    elif parent_name and parent_name not in declared:
        out.append(f"declares base_model {declared} but derives from {parent_name}")
    if isinstance(declared_rel, str) and declared_rel != relation and relation != "identical":
        out.append(f"declares base_model_relation {declared_rel!r}, detected {relation!r}")
    return out
