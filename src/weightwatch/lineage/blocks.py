"""The population-free lineage test: do two models share MLP hidden units?

In the spirit of Zhu et al. (ICML 2025, "Independence tests for language models"): the
hidden units of a layer can be put in any order without changing the model, and two
independently trained models have no reason to share any. Each fingerprint keeps, for a
few layers, its most important units' read directions (gate and up rows) and write
directions (down columns) in a canonical residual basis (``fingerprint.units``).

1. Split the compared layers into two interleaved folds; for each fold, align the two
   residual bases on the *other* fold (cross-fitting): alternate a unit matching on read
   directions (the Hungarian algorithm, per layer) with an orthogonal Procrustes fit,
   seeded by matching units on rotation-invariant descriptors.
2. In each held-out layer, match the units twice, once on read and once on write
   directions.
3. A shared unit is matched the same way by both; for unrelated models the two
   matchings are two unrelated permutations, and the number of units they agree on
   is that of fixed points of a random permutation: Poisson(1) (P(≥ k) ≤ 1/k!). Each
   layer's agreement count becomes a (randomised, so exactly uniform) p-value, and
   Fisher's method combines the layers.

Why cross-fitting: a rotation of the residual stream has r(r-1)/2 free parameters
(32,640 at r = 256). Fitted to make one layer's read directions match, it also drags
the matched units' write directions together (a unit's read and write directions are
linked inside every trained model), so an in-sample fit made SmolLM2-135M and Gemma 3
270M agree on up to 17 of 128 units per layer (log10 p = -37). Fitted on the other fold,
the rotation cannot have been tuned to the layer it is tested on: the same pair agrees on
0-2 units (Poisson(1) expects 1), while a derivative, whose residual basis is one basis
throughout, still lines up (docs/lineage.md has the figures).

Nothing here is fitted on other models: the null comes from the permutation symmetry of
hidden units. Its assumption is that, with the basis fixed elsewhere, an unrelated
model's read and write matchings are unrelated permutations; docs/lineage.md shows how
well that holds (KS test on unrelated pairs: tiny, mid-size and real models). Because
the test never looks at token embeddings, it still links a derivative whose embeddings
were re-initialised for a new tokenizer.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt

from weightwatch.fingerprint.model import Fingerprint
from weightwatch.reports import Record

ITERATIONS = 5  # matching <-> Procrustes rounds; derivatives converge in one or two
MIN_UNITS = 16
FOLDS = 2  # cross-fitting: layers alternate between the two folds

F64 = npt.NDArray[np.float64]


class BlockTest(Record):
    """The shared-units test of one pair: per layer, how many units both matchings agree
    on out of how many compared, and the combined log10 p."""

    log10_p: float
    layers: list[tuple[int, int]]  # (parent layer, child layer) compared
    agree: list[int]
    units: int


def _pairs(a: Fingerprint, b: Fingerprint) -> list[tuple[int, int]]:
    """Pair stored layers by relative depth (each child layer to the nearest parent one)."""
    na, nb = max(1, a.n_layers - 1), max(1, b.n_layers - 1)
    out: list[tuple[int, int]] = []
    for j, lb in enumerate(b.unit_layers):
        depth = [abs(la / na - lb / nb) for la in a.unit_layers]
        i = int(np.argmin(depth))
        if (i, j) not in out:
            out.append((i, j))
    return out


def _match(sim: F64) -> npt.NDArray[np.int64]:
    """For each row (parent unit), the child unit it is matched to (max total similarity)."""
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]  # lazy

    rows, cols = linear_sum_assignment(-sim)
    out = np.empty(sim.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def _unit(x: F64) -> F64:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    out: F64 = x / np.where(n > 0, n, 1.0)
    return out


def _whiten(units: F64) -> tuple[F64, F64]:
    """(read [L, k, 2, r], write [L, k, r]) directions per layer, each kind centred and
    whitened by the model's own second moment, then unit length: what all units of a
    model share (a dominant direction, an anisotropic residual stream) must not make two
    models look alike. Whitening is rotation-equivariant: a rotated copy still lines up."""
    out = []
    for parts in ((0, 1), (2,)):
        x = units[:, :, parts, :]  # [L, k, p, r]
        flat = x.reshape(-1, x.shape[-1])
        c = flat - flat.mean(axis=0)
        w, v = np.linalg.eigh(c.T @ c / max(1, len(c)))
        inv = (v / np.sqrt(np.maximum(w, 1e-3 * max(float(w.max()), 1e-12)))) @ v.T
        white = ((flat - flat.mean(axis=0)) @ inv).reshape(x.shape)
        norm = np.linalg.norm(white, axis=(2, 3), keepdims=True)
        out.append(white / np.where(norm > 0, norm, 1.0))
    return out[0], out[1][:, :, 0]


def _descriptors(units: F64) -> F64:
    """Per unit, numbers no rotation or unit permutation changes: log |gate|, log
    |up|·|down| (unchanged by rescaling up against down) and the three cosines between
    its gate, up and down directions; standardised per layer."""
    n = np.linalg.norm(units, axis=-1)  # [L, k, 3]
    v = _unit(units)
    cos = [np.sum(v[:, :, a] * v[:, :, b], axis=-1) for a, b in ((0, 1), (0, 2), (1, 2))]
    d = np.stack(
        [np.log(n[:, :, 0] + 1e-12), np.log(n[:, :, 1] * n[:, :, 2] + 1e-12), *cos], axis=-1
    )
    sd = d.std(axis=1, keepdims=True)
    out: F64 = (d - d.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    return out


def _procrustes(m: F64) -> F64:
    u, _, vt = np.linalg.svd(m)
    out: F64 = u @ vt
    return out


def _align(ra: F64, rb: F64, da: F64, db: F64, pairs: list[tuple[int, int]]) -> F64:
    """The orthogonal map of the child's residual basis onto the parent's: seeded by
    matching units on their invariant descriptors, refined by matching read directions
    and refitting (Procrustes) until it settles.

    Once a round matches every unit as the round before did, its Procrustes fit is the
    same matrix, and so is every later round: the loop stops there, with the result the
    remaining rounds would have returned (registration compares stop after the second
    round, half the work; ``test_blocks`` checks the shortcut against every round run)."""
    m = np.zeros((ra.shape[-1], ra.shape[-1]))
    for i, j in pairs:
        cost = np.sum((da[i][:, None, :] - db[j][None, :, :]) ** 2, axis=-1)
        m += _cross(ra[i], rb[j], _match(-cost))
    r = _procrustes(m)
    seen: list[npt.NDArray[np.int64]] = []
    for _ in range(ITERATIONS):
        matched = [_match(_sim(ra[i], rb[j] @ r)) for i, j in pairs]
        if seen and all(np.array_equal(a, b) for a, b in zip(seen, matched, strict=True)):
            break  # the same matching gives the same fit: nothing further can change
        seen = matched
        m = np.zeros_like(m)
        for (i, j), pi in zip(pairs, matched, strict=True):
            m += _cross(ra[i], rb[j], pi)
        r = _procrustes(m)
    return r


def _sim(a: F64, b: F64) -> F64:
    """Cosine similarity of every parent unit with every child unit ([k, 2, r] each)."""
    out: F64 = a.reshape(len(a), -1) @ b.reshape(len(b), -1).T  # a BLAS product, not einsum
    return out


def _cross(a: F64, b: F64, pi: npt.NDArray[np.int64]) -> F64:
    """Σ bᵀa over matched units and both read parts: what Procrustes maximises."""
    r = a.shape[-1]
    out: F64 = b[pi].reshape(-1, r).T @ a.reshape(-1, r)
    return out


def _centred(s: F64) -> F64:
    out: F64 = s - s.mean(axis=0, keepdims=True) - s.mean(axis=1, keepdims=True) + s.mean()
    return out


def _agreement(read: F64, write: F64) -> int:
    """Units matched alike on read and on write similarity. The write similarities are
    first freed of what the read similarities already explain (least squares over the
    pairs the read matching did not choose), so a model-wide link between a unit's read
    and write directions cannot make unrelated matchings agree."""
    on_read = _match(read)
    x, y = _centred(read), _centred(write)
    keep = np.ones_like(x, dtype=bool)
    keep[np.arange(len(on_read)), on_read] = False
    den = float(np.sum(x[keep] ** 2))
    beta = float(np.sum(x[keep] * y[keep])) / den if den > 0 else 0.0
    on_write = _match(y - beta * x)
    return int(np.count_nonzero(on_read == on_write))


def block_test(parent: Fingerprint, child: Fingerprint) -> BlockTest | None:
    """The shared-units test, or ``None`` where either fingerprint has no units, fewer
    than two stored layers (the cross-fit needs another layer to align on) or too few
    units. Residual widths may differ: both are cut to their shared canonical rank."""
    if parent.units is None or child.units is None:
        return None
    if min(len(parent.unit_layers), len(child.unit_layers)) < 2:
        return None
    rank = min(parent.units.shape[-1], child.units.shape[-1])
    ua = parent.units[..., :rank].astype(np.float64)
    ub = child.units[..., :rank].astype(np.float64)
    if min(ua.shape[1], ub.shape[1]) < MIN_UNITS:
        return None
    pairs = _pairs(parent, child)
    if len(pairs) < 2:
        return None
    (ra, wa), (rb, wb) = _whiten(ua), _whiten(ub)
    da, db = _descriptors(ua), _descriptors(ub)
    agree = [0] * len(pairs)
    for fold in range(FOLDS):  # each layer aligned on the other fold's layers, never its own
        held = range(fold, len(pairs), FOLDS)
        r = _align(ra, rb, da, db, [p for n, p in enumerate(pairs) if n % FOLDS != fold])
        for n in held:
            i, j = pairs[n]
            agree[n] = _agreement(_sim(ra[i], rb[j] @ r), wa[i] @ (wb[j] @ r).T)
    log10_p = _fisher([_layer_log_p(k, _uniform(parent, child, n)) for n, k in enumerate(agree)])
    return BlockTest(
        log10_p=log10_p,
        layers=[(parent.unit_layers[i], child.unit_layers[j]) for i, j in pairs],
        agree=agree,
        units=int(min(ua.shape[1], ub.shape[1])),
    )


def _layer_log_p(k: int, u: float) -> float:
    """ln of the randomised p-value of ``k`` agreements: P(X > k) + u·P(X = k), X ~
    Poisson(1) — exactly uniform when the two matchings are unrelated permutations."""
    return float(np.logaddexp(_poisson1_log_sf(k), -1.0 - math.lgamma(k + 1) + math.log(u)))


def _poisson1_log_sf(k: int) -> float:
    """ln P(X > k) for X ~ Poisson(1), in log space (finite for any k)."""
    j = np.arange(k + 1, k + 60, dtype=np.float64)
    terms = -1.0 - np.array([math.lgamma(v + 1.0) for v in j])
    return float(np.logaddexp.reduce(terms))


def _uniform(a: Fingerprint, b: Fingerprint, n: int) -> float:
    """A uniform draw fixed by the pair (the same pair always gets the same p-value)."""
    h = hashlib.sha256()
    for fp in (a, b):
        assert fp.units is not None  # block_test runs only on fingerprints that have units
        h.update(np.ascontiguousarray(fp.units.reshape(-1)[:2048], dtype=np.float16).tobytes())
    h.update(n.to_bytes(4, "little"))
    return (int.from_bytes(h.digest()[:8], "little") + 0.5) / 2.0**64


def _fisher(log_ps: list[float]) -> float:
    """Fisher's combination of independent p-values (given as ln p), as log10 p.

    With 2L degrees of freedom the chi-square tail has a closed form,
    e^(-x/2) Σ_{i<L} (x/2)^i / i!, summed here in log space so it never underflows."""
    if not log_ps:
        return 0.0
    half = -sum(log_ps)  # x / 2
    if half <= 0:
        return 0.0
    i = np.arange(len(log_ps), dtype=np.float64)
    terms = i * math.log(half) - np.array([math.lgamma(v + 1.0) for v in i])
    return min(0.0, (-half + float(np.logaddexp.reduce(terms))) / math.log(10.0))
