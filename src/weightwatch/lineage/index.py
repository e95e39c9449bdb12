"""A persistent index of fingerprints: approximate search on first-tier vectors, exact re-rank.

Layout of an index folder: ``fingerprints/<id>.wwfp`` (one fingerprint file each),
``entries.json`` (id -> name and class), ``vectors.hnsw`` (the hnswlib graph over
``Fingerprint.index_vector``). hnswlib was chosen by measurement (benchmarks/lineage:
build time, p99 latency and recall against usearch and faiss on the same vectors).
Writers take a file lock; the graph and the entry list are replaced atomically.

With several hosts the index is a cache of what a database holds: ``catch_up`` adds the
rows a source hands out after the last sequence number this folder has seen (kept in
``seq``), and ``loader`` fetches a fingerprint whose file this host does not have.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import RegistryError, UsageError
from weightwatch.fingerprint.model import INDEX_DIM, Fingerprint
from weightwatch.lineage.relation import Comparison, Nulls, compare

SPACE = "cosine"
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 256
FP_CACHE = 4096  # fingerprints kept in memory (a few hundred KB each for small models)
_NAME = re.compile(r"^[\w.\-/@:+]{1,200}$")

#: (sequence number, entry name, first-tier vector, layer count), in sequence order
Row = tuple[int, str, "npt.NDArray[np.float32]", int]


@dataclass(frozen=True)
class Match:
    id: int
    name: str
    ann_similarity: float  # first-tier cosine
    comparison: Comparison


class FingerprintIndex:
    """Nearest registered models to a fingerprint."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create: bool = False,
        loader: Callable[[str], Fingerprint | None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.loader = loader
        if create:
            (self.root / "fingerprints").mkdir(parents=True, exist_ok=True)
        elif (
            not (self.root / "entries.json").is_file() and not (self.root / "fingerprints").is_dir()
        ):
            raise UsageError(
                f"{self.root}: not a fingerprint index",
                hint="create one with `weightwatch fingerprint MODEL --add-to DIR`",
            )
        self._entries: dict[int, dict[str, Any]] = self._read_entries()
        self._graph: Any = None
        self._fps: dict[int, Fingerprint] = {}
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int]:
        try:
            st = (self.root / "entries.json").stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        """Pick up entries another process added since we last looked (files are replaced
        atomically, so a changed stamp means a complete new state)."""
        stamp = self._stamp()
        if stamp != self._seen:
            self._entries = self._read_entries()
            self._graph = None
            self._seen = stamp

    # -- storage --------------------------------------------------------------------
    def _read_entries(self) -> dict[int, dict[str, Any]]:
        p = self.root / "entries.json"
        if not p.is_file():
            return {}
        try:
            raw = json.loads(p.read_text())
            return {int(k): dict(v) for k, v in raw.items()}
        except (ValueError, TypeError, AttributeError) as exc:
            raise RegistryError(f"{p}: damaged index entry list ({exc})") from exc

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._entries = self._read_entries()
            self._graph = None
            yield

    def _load_graph(self) -> Any:
        import hnswlib

        if self._graph is None:
            g = hnswlib.Index(space=SPACE, dim=INDEX_DIM)
            path = self.root / "vectors.hnsw"
            if path.is_file() and self._entries:
                g.load_index(str(path), max_elements=max(len(self._entries), 16))
            else:
                g.init_index(max_elements=16, M=M, ef_construction=EF_CONSTRUCTION)
            g.set_ef(EF_SEARCH)
            self._graph = g
        return self._graph

    def _write(self) -> None:
        tmp = self.root / "vectors.hnsw.tmp"
        self._load_graph().save_index(str(tmp))
        tmp.replace(self.root / "vectors.hnsw")
        etmp = self.root / "entries.json.tmp"
        etmp.write_text(json.dumps({str(k): v for k, v in sorted(self._entries.items())}))
        etmp.replace(self.root / "entries.json")
        self._seen = self._stamp()

    # -- API ------------------------------------------------------------------------
    def __len__(self) -> int:
        self._refresh()
        return len(self._entries)

    def add(self, name: str, fp: Fingerprint) -> int:
        """Store ``fp`` under ``name``; returns its id."""
        if not _NAME.match(name):
            raise UsageError(f"index name {name!r}: use letters, digits and . - / @ : + _")
        with self._locked():
            g = self._load_graph()
            new_id = max(self._entries, default=-1) + 1
            if g.get_current_count() + 1 > g.get_max_elements():
                g.resize_index(max(16, 2 * g.get_max_elements()))
            fp.save(self.root / "fingerprints" / f"{new_id}.wwfp")
            g.add_items(fp.index_vector()[None, :], np.array([new_id]))
            self._entries[new_id] = {"name": name, "layers": fp.n_layers}
            self._write()
        return new_id

    def add_vectors(self, vectors: npt.NDArray[np.float32], names: list[str]) -> list[int]:
        """Bulk-load first-tier vectors without fingerprint files (benchmarks, migrations)."""
        with self._locked():
            ids = self._insert(vectors, names, [0] * len(names))
            self._write()
        return ids

    def _insert(
        self, vectors: npt.NDArray[np.float32], names: list[str], layers: list[int]
    ) -> list[int]:
        """Add entries to the graph and the entry list (under the lock; not yet written)."""
        g = self._load_graph()
        start = max(self._entries, default=-1) + 1
        ids = np.arange(start, start + len(names))
        need = g.get_current_count() + len(names)
        if need > g.get_max_elements():
            g.resize_index(max(need, 2 * g.get_max_elements()))
        g.add_items(vectors, ids)
        for i, n, k in zip(ids.tolist(), names, layers, strict=True):
            self._entries[i] = {"name": n, "layers": k}
        return list(ids.tolist())

    @property
    def seq(self) -> int:
        """The last sequence number ``catch_up`` added (0: none)."""
        try:
            return int((self.root / "seq").read_text() or 0)
        except FileNotFoundError:
            return 0
        except ValueError as exc:
            raise RegistryError(f"{self.root / 'seq'}: damaged sequence number ({exc})") from exc

    def catch_up(self, fetch: Callable[[int], list[Row]]) -> int:
        """Add what ``fetch(after_seq)`` returns (a batch, in sequence order; empty when
        there is no more) until it is exhausted; returns how many entries were added.
        Idempotent: a name already present is not added twice."""
        seen = self.seq
        rows = fetch(seen)
        if not rows:
            return 0  # the common case: nothing new, and no lock taken
        added = 0
        with self._locked():
            names = {str(e.get("name")) for e in self._entries.values()}
            seq = self.seq
            if seq != seen:  # another process caught up meanwhile: its batch is stale
                rows = fetch(seq)
            while rows:
                fresh = [r for r in rows if r[1] not in names]
                seq = rows[-1][0]
                if fresh:
                    vectors = np.stack([r[2] for r in fresh]).astype(np.float32)
                    self._insert(vectors, [r[1] for r in fresh], [r[3] for r in fresh])
                    names.update(r[1] for r in fresh)
                    added += len(fresh)
                rows = fetch(seq)
            self._write()
            tmp = self.root / "seq.tmp"
            tmp.write_text(str(seq))
            tmp.replace(self.root / "seq")
        return added

    def has_name(self, name: str) -> bool:
        return self.entry_id(name) is not None

    def entry_id(self, name: str) -> int | None:
        """The id of the entry stored under ``name`` (the first, if several)."""
        for entry_id, e in sorted(self._read_entries().items()):
            if e.get("name") == name:
                return entry_id
        return None

    def fingerprint(self, entry_id: int) -> Fingerprint | None:
        """A stored fingerprint (kept in memory, bounded: comparisons cache on it)."""
        if entry_id in self._fps:
            return self._fps[entry_id]
        p = self.root / "fingerprints" / f"{entry_id}.wwfp"
        if p.is_file():
            fp: Fingerprint | None = Fingerprint.load(p)
        elif self.loader is not None and entry_id in self._entries:
            fp = self.loader(str(self._entries[entry_id]["name"]))
        else:
            fp = None
        if fp is None:
            return None
        if len(self._fps) >= FP_CACHE:
            self._fps.clear()
        self._fps[entry_id] = fp
        return fp

    def candidates(self, fp: Fingerprint, k: int) -> list[tuple[int, float]]:
        """First tier: the ``k`` nearest ids by cosine of index vectors."""
        self._refresh()
        if not self._entries:
            return []
        g = self._load_graph()
        k = min(k, g.get_current_count())
        g.set_ef(max(EF_SEARCH, k))
        labels, dist = g.knn_query(fp.index_vector()[None, :], k=k)
        return [
            (int(i), 1.0 - float(d))
            for i, d in zip(labels[0], dist[0], strict=True)
            if int(i) in self._entries
        ]

    def search(
        self,
        fp: Fingerprint,
        *,
        top: int = 10,
        candidates: int = 50,
        nulls: Nulls | None = None,
        alpha: float = 1e-3,
    ) -> list[Match]:
        """Exact comparison of the first tier's ``candidates`` best; the ``top`` by score."""
        out: list[Match] = []
        for entry_id, sim in self.candidates(fp, max(top, candidates)):
            parent = self.fingerprint(entry_id)
            if parent is None:
                continue
            name = str(self._entries[entry_id]["name"])
            c = compare(parent, fp, nulls=nulls, alpha=alpha, parent_name=name, parent_id=name)
            out.append(Match(entry_id, name, sim, c))
        out.sort(key=lambda m: -m.comparison.score)
        return out[:top]
