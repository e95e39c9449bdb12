"""The ``Fingerprint``: what weightwatch remembers of a model to recognise its descendants.

For the printable-ASCII anchor tokens a model has (matched by the bytes they spell), it
keeps small anchor-by-anchor matrices that do not change when the hidden space is
permuted or rotated, heads or MLP units are reordered, or adjacent layers are rescaled:

- ``emb``: cosine similarities of the anchors' token embeddings;
- per layer, ``qk`` = X Wqᵀ Wk Xᵀ, ``ov`` = X Wvᵀ Wo... (values written back to the
  residual stream), ``mlp_in`` (the MLP's input projection Gram) and ``mlp_io`` (input
  projection times output projection, which cancels per-unit rescaling);

where X holds the anchors' embeddings, row-normalised as the layer's norm would, with
the norm's weights folded in (HuRef-style invariants extended to full rotations). A
derivative keeps these matrices nearly unchanged; an unrelated model's are uncorrelated
with them up to whatever structure the training data imposes (see ``lineage``).

A fingerprint is stored as a safetensors file (``FORMAT``/``VERSION`` in its metadata),
read back with weightwatch's own strict parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError

FORMAT = "weightwatch-fingerprint"
VERSION = "1"
KINDS = ("qk", "ov", "mlp_in", "mlp_io")
INDEX_DIM = 256  # length of the first-tier vector the nearest-neighbour index stores
_PROJECTION_SEED = 0x5EED_F1A6


@dataclass(frozen=True)
class Fingerprint:
    """Invariant anchor matrices of one model plus facts that help name the relation."""

    anchors: tuple[bytes, ...]  # the anchors present, in ``vocab.ANCHORS`` order
    emb: npt.NDArray[np.float32]  # [m, m]
    layers: dict[str, npt.NDArray[np.float32]]  # kind -> [n_layers, m, m]
    info: dict[str, Any] = field(default_factory=dict)  # arch, sizes, dtypes, card facts
    # MLP units of a few layers in a canonical residual basis (``units``), for recognising
    # blocks whose embeddings were replaced: [layers, units, 3 (gate, up, down), rank].
    units: npt.NDArray[np.float32] | None = None
    unit_layers: tuple[int, ...] = ()
    # Derived values (whitened matrices per anchor subset), kept for repeated comparisons.
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_layers(self) -> int:
        return int(next(iter(self.layers.values())).shape[0]) if self.layers else 0

    def index_vector(self) -> npt.NDArray[np.float32]:
        """First-tier vector: the centred embedding Gram over all anchors, projected.

        Absent anchors contribute zeros; a fixed random projection to ``INDEX_DIM``
        preserves cosines (Johnson-Lindenstrauss) so ANN search works on a short vector.
        """
        from weightwatch.fingerprint.vocab import ANCHORS

        pos = {a: i for i, a in enumerate(ANCHORS)}
        full = np.zeros((len(ANCHORS), len(ANCHORS)), dtype=np.float32)
        has = np.zeros(len(ANCHORS), dtype=bool)
        idx = np.array([pos[a] for a in self.anchors], dtype=np.int64)
        full[np.ix_(idx, idx)] = self.emb
        has[idx] = True
        iu = np.triu_indices(len(ANCHORS), k=1)
        v = full[iu]
        present = (has[:, None] & has[None, :])[iu]
        if present.any():
            v = np.where(present, v - v[present].mean(), 0.0).astype(np.float32)
        out = _projection(v.shape[0]) @ v
        n = float(np.linalg.norm(out))
        return (out / n if n > 0 else out).astype(np.float32)

    # -- storage -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save

        p = Path(path)
        tensors = {"emb": np.ascontiguousarray(self.emb, dtype=np.float32)}
        for kind, arr in self.layers.items():
            tensors[f"layers.{kind}"] = np.ascontiguousarray(arr, dtype=np.float16)
        if self.units is not None:
            tensors["units"] = np.ascontiguousarray(self.units, dtype=np.float16)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "anchors": json.dumps([a.hex() for a in self.anchors]),
            "info": json.dumps(self.info, sort_keys=True),
            "unit_layers": json.dumps(list(self.unit_layers)),
        }
        # Serialized in memory (a few hundred KB) and written by us, so an unwritable
        # path is an OSError naming ``p`` rather than safetensors' temporary file.
        p.write_bytes(save(tensors, metadata=meta))
        return p

    @classmethod
    def load(cls, path: str | Path) -> Fingerprint:
        from weightwatch.artifacts.safetensors import iter_tensors, read_header

        p = Path(path)
        meta = read_header(p).metadata
        if meta.get("format") != FORMAT:
            raise ArtifactError(p, f"not a weightwatch fingerprint (format {meta.get('format')!r})")
        if meta.get("version") != VERSION:
            raise ArtifactError(
                p, f"fingerprint version {meta.get('version')!r}; this weightwatch reads {VERSION}"
            )
        try:
            anchors = tuple(bytes.fromhex(a) for a in json.loads(meta["anchors"]))
            info = json.loads(meta.get("info", "{}"))
            unit_layers = tuple(int(i) for i in json.loads(meta.get("unit_layers", "[]")))
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(p, f"fingerprint metadata is damaged ({exc})") from exc
        arrays = {t.name: np.asarray(t.to_float32()) for t in iter_tensors(p)}
        m = len(anchors)
        emb = arrays.pop("emb", None)
        if emb is None or emb.shape != (m, m):
            raise ArtifactError(p, f"fingerprint has no {m}x{m} 'emb' matrix")
        units = arrays.pop("units", None)
        if units is not None and (units.ndim != 4 or units.shape[0] != len(unit_layers)):
            raise ArtifactError(p, f"fingerprint units have shape {units.shape}")
        layers = {k.removeprefix("layers."): v for k, v in arrays.items()}
        for kind, arr in layers.items():
            if arr.ndim != 3 or arr.shape[1:] != (m, m):
                raise ArtifactError(p, f"fingerprint matrix {kind!r} has shape {arr.shape}")
        return cls(
            anchors,
            emb,
            layers,
            info if isinstance(info, dict) else {},
            units=units,
            unit_layers=unit_layers if units is not None else (),
        )


_PROJ_CACHE: dict[int, npt.NDArray[np.float32]] = {}


def _projection(n: int) -> npt.NDArray[np.float32]:
    if n not in _PROJ_CACHE:
        rng = np.random.default_rng(_PROJECTION_SEED)
        _PROJ_CACHE[n] = (rng.standard_normal((INDEX_DIM, n)) / np.sqrt(INDEX_DIM)).astype(
            np.float32
        )
    return _PROJ_CACHE[n]
