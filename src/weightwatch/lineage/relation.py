"""Compare two fingerprints: a similarity score, its null probability, the likely relation.

The score is the mean Pearson correlation (off-diagonal entries) of the invariant anchor
matrices, each whitened by its model's own anchor Gram, over aligned layers (a monotone
alignment, so dropped or duplicated layers still line up). What unrelated models score
is estimated from unrelated pairs and kept as a sample of Fisher-z transformed scores
(``Null``); a registry re-fits it on its own population, since unrelated models
trained on similar data share structure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import UsageError
from weightwatch.fingerprint.model import KINDS, Fingerprint
from weightwatch.reports import Record, Report

MIN_SHARED = 32
IDENTICAL = 0.99999
QUANTIZED = 0.9  # int4 copies score >= 0.94, a quantized fine-tune ~0.82 (benchmarks)
RELATIONS = ("identical", "quantized", "finetune", "adapter", "merge", "unrelated")


@dataclass(frozen=True)
class Null:
    """What unrelated pairs of one model class score: a sample of atanh(score).

    p-values are empirical, (1 + #{null >= z}) / (n + 1), where the sample has data; in
    the far tail, beyond its 90th percentile, an exponential fitted to the exceedances
    extrapolates (peaks-over-threshold). Both are conservative where a normal fit is
    not: the alignment takes a maximum, so unrelated scores have a heavier upper tail.
    """

    sample: tuple[float, ...]  # sorted
    source: str

    @property
    def n_pairs(self) -> int:
        return len(self.sample)

    def p_value(self, score: float) -> float:
        z = math.atanh(min(max(score, -0.999999), 0.999999))
        x = np.asarray(self.sample)
        n = x.size
        k = int(n - np.searchsorted(x, z, side="left"))  # sample values >= z
        empirical = (k + 1) / (n + 1)
        u = float(np.quantile(x, 0.9))
        if z <= u:
            return empirical
        excess = x[x > u] - u
        beta = float(excess.mean()) if excess.size else 1e-3
        tail = (excess.size + 1) / (n + 1) * math.exp(-(z - u) / max(beta, 1e-6))
        return float(min(empirical, tail))

    def caution(self) -> float:
        """The 99th percentile of the null: how high unrelated models of this class reach."""
        return float(np.quantile(np.asarray(self.sample), 0.99))

    @classmethod
    def fit(cls, scores: list[float], source: str) -> Null:
        if len(scores) < 10:
            raise UsageError(f"need at least 10 unrelated pairs to fit a null, got {len(scores)}")
        z = np.arctanh(np.clip(np.asarray(scores, dtype=np.float64), -0.999999, 0.999999))
        return cls(tuple(sorted(round(float(v), 6) for v in z)), source)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n_pairs": self.n_pairs, "atanh_scores": list(self.sample)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Null:
        return cls(tuple(sorted(float(v) for v in raw["atanh_scores"])), str(raw["source"]))


def model_class(fp: Fingerprint) -> str:
    """Null classes: models whose embeddings are also the output layer learn much more
    shared structure from the data, so unrelated pairs of them score higher."""
    layout = str(fp.info.get("layout", "gated"))
    return f"{layout}-tied" if fp.info.get("tied_embeddings") else layout


@dataclass(frozen=True)
class Nulls:
    """One ``Null`` per model class; a pair uses the more cautious of its two classes."""

    by_class: dict[str, Null]

    def for_pair(self, a: Fingerprint, b: Fingerprint) -> Null:
        known = [self.by_class[c] for c in (model_class(a), model_class(b)) if c in self.by_class]
        pool = known or list(self.by_class.values())
        return max(pool, key=lambda n: n.caution())

    def to_json(self) -> dict[str, Any]:
        return {"classes": {k: v.to_json() for k, v in sorted(self.by_class.items())}}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Nulls:
        return cls({k: Null.from_json(v) for k, v in raw["classes"].items()})

    @classmethod
    def default(cls) -> Nulls:
        text = resources.files("weightwatch.lineage").joinpath("null.json").read_text()
        return cls.from_json(json.loads(text))


class LayerMatch(Record):
    parent_layer: int
    child_layer: int
    r: float


class Comparison(Report):
    """How ``child`` relates to ``parent``; the JSON form is stable (``schema_version``)."""

    parent: str
    child: str
    score: float
    p_value: float
    verdict: str  # "derived" | "unrelated"
    relation: str  # one of RELATIONS
    per_kind: dict[str, float]
    embedding_r: float
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
    parent_name: str | None = None,
    child_name: str | None = None,
    parent_id: str | None = None,
) -> Comparison:
    """Score, p-value and relation of ``child`` to ``parent``.

    ``parent_id`` is the parent's registered name (``namespace/name``), checked against the
    card's ``base_model``; ``parent_name`` only labels the report.
    """
    null = (nulls or Nulls.default()).for_pair(parent, child)
    pos = {a: i for i, a in enumerate(child.anchors)}
    shared = [(i, pos[a]) for i, a in enumerate(parent.anchors) if a in pos]
    ia = np.array([s[0] for s in shared], dtype=np.int64)
    ib = np.array([s[1] for s in shared], dtype=np.int64)
    kinds = [k for k in KINDS if k in parent.layers and k in child.layers]
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
    p = null.p_value(score)
    derived = p < alpha
    relation = _relation(parent, child, score, emb_r, derived)
    declared = [str(b) for b in child.info.get("declared_base_model", [])]
    declared_rel = child.info.get("declared_relation")
    return Comparison(
        parent=parent_name or str(parent.info.get("source", "parent")),
        child=child_name or str(child.info.get("source", "child")),
        score=score,
        p_value=p,
        verdict="derived" if derived else "unrelated",
        relation=relation,
        per_kind=per_kind,
        embedding_r=emb_r,
        shared_anchors=len(shared),
        layers=layers,
        declared_base_model=declared,
        declared_relation=declared_rel if isinstance(declared_rel, str) else None,
        disagreements=disagreements_for(relation, declared, declared_rel, parent_id),
    )


def _relation(
    parent: Fingerprint, child: Fingerprint, score: float, emb_r: float, derived: bool
) -> str:
    if not derived:
        return "unrelated"
    same_shape = parent.n_layers == child.n_layers and parent.info.get("hidden") == child.info.get(
        "hidden"
    )
    if score >= IDENTICAL and emb_r >= IDENTICAL and same_shape:
        q_parent, q_child = bool(parent.info.get("quantized")), bool(child.info.get("quantized"))
        return "quantized" if q_child and not q_parent else "identical"
    if score >= QUANTIZED and child.info.get("quantized") and not parent.info.get("quantized"):
        return "quantized"
    return "finetune"


def disagreements_for(
    relation: str, declared: list[str], declared_rel: Any, parent_name: str | None
) -> list[str]:
    out: list[str] = []
    if relation == "unrelated":
        return out
    if not declared:
        out.append(f"derived ({relation}) but the card declares no base_model")
    elif parent_name and parent_name not in declared:
        out.append(f"declares base_model {declared} but derives from {parent_name}")
    if isinstance(declared_rel, str) and declared_rel != relation and relation != "identical":
        out.append(f"declares base_model_relation {declared_rel!r}, detected {relation!r}")
    return out
