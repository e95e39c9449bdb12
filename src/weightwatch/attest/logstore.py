"""The append-only transparency log, stored in SQL (SQLite by default, PostgreSQL too).

Each append is one transaction that takes the log's head row, writes the entry and the
perfect subtree nodes it completes, and moves the head: concurrent writers queue on the
head (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL), so indices
are dense and unique, and a writer killed mid-append leaves no trace. Proofs read the
O(log n) stored nodes they need in one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.engine import Connection

from weightwatch.attest.checkpoint import Checkpoint, sign_checkpoint
from weightwatch.attest.keys import KeySigner
from weightwatch.attest.note import split_note
from weightwatch.db import make_engine, writer
from weightwatch.errors import RegistryError, VerificationError
from weightwatch.merkle import TreeView, leaf_hash, node_hash, parents_completed_by, sha256

# The log's tables, defined once: ``LogStore`` creates them in a database of its own, and
# the registry's Alembic environment compares them with its database (whose migration
# 0001 keeps its own frozen copy of this first shape, as migrations must).
metadata = MetaData()
# node key = level * 2**48 + index: one integer primary key, one IN query per proof.
_LEVEL = 1 << 48

log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
)
log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("created_at", String(40), nullable=False),
)
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)
log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)


@dataclass(frozen=True)
class Entry:
    index: int
    kind: str
    leaf: bytes
    leaf_hash: bytes
    created_at: str


class _StoredTree(TreeView):
    def __init__(self, nodes: dict[int, bytes], size: int) -> None:
        self.h, self.size, self.nodes = sha256, size, nodes

    def _node(self, level: int, index: int) -> bytes:
        return self.nodes[level * _LEVEL + index]


class _Recorder(TreeView):
    """Runs a proof algorithm once only to learn which nodes it will need."""

    def __init__(self, size: int) -> None:
        self.h, self.size, self.keys = sha256, size, set[int]()

    def _node(self, level: int, index: int) -> bytes:
        self.keys.add(level * _LEVEL + index)
        return b"\x00" * 32


class LogStore:
    """Append-only Merkle log over a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self._postgres = engine.dialect.name == "postgresql"
        metadata.create_all(self._writer, checkfirst=True)
        with self._writer.begin() as conn:
            if conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).first() is None:
                conn.execute(log_head.insert().values(id=1, size=0))

    @classmethod
    def open(cls, url: str) -> LogStore:
        """A log in the database at ``url`` (created if new), engine from ``weightwatch.db``."""
        return cls(make_engine(url))

    # -- writing -----------------------------------------------------------------
    def append(self, leaf: bytes, *, kind: str) -> int:
        return self.append_many([(kind, leaf)])[0]

    def append_many(
        self, items: Sequence[tuple[str, bytes]], *, conn: Connection | None = None
    ) -> list[int]:
        """Append entries atomically, in order; returns their indices.

        With ``conn`` (a write transaction of the caller's, see ``writer``) the entries
        commit or roll back together with the caller's own rows, e.g. a registration.
        """
        if not items:
            return []
        if conn is None:
            with self._writer.begin() as own:
                return self._append(own, items)
        return self._append(conn, items)

    def _append(self, conn: Connection, items: Sequence[tuple[str, bytes]]) -> list[int]:
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        q = select(log_head.c.size).where(log_head.c.id == 1)
        size = int(conn.execute(q.with_for_update() if self._postgres else q).scalar_one())
        pending: dict[int, bytes] = {}
        entries, indices = [], []
        for offset, (kind, leaf) in enumerate(items):
            idx = size + offset
            lh = leaf_hash(leaf)

            def sibling(level: int, i: int) -> bytes:
                key = level * _LEVEL + i
                if key not in pending:
                    pending[key] = self._read_nodes(conn, [key])[key]
                return pending[key]

            for level, i, h in parents_completed_by(idx, lh, sibling):
                pending[level * _LEVEL + i] = h
            entries.append(
                {"idx": idx, "kind": kind, "leaf": leaf, "leaf_hash": lh, "created_at": now}
            )
            indices.append(idx)
        new_keys = {k: v for k, v in pending.items() if self._is_new(k, size)}
        conn.execute(log_entries.insert(), entries)
        conn.execute(
            log_nodes.insert(), [{"key": k, "hash": v} for k, v in sorted(new_keys.items())]
        )
        conn.execute(update(log_head).where(log_head.c.id == 1).values(size=size + len(items)))
        return indices

    @staticmethod
    def _is_new(key: int, old_size: int) -> bool:
        level, index = divmod(key, _LEVEL)
        return (index + 1) << level > old_size  # the node covers at least one new leaf

    # -- reading -----------------------------------------------------------------
    def size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one())

    def entry(self, index: int) -> Entry:
        with self.engine.connect() as conn:
            row = conn.execute(select(log_entries).where(log_entries.c.idx == index)).first()
        if row is None:
            raise RegistryError(f"no log entry {index}")
        return Entry(row.idx, row.kind, bytes(row.leaf), bytes(row.leaf_hash), row.created_at)

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Entry]:
        q = select(log_entries).where(log_entries.c.idx >= start).order_by(log_entries.c.idx)
        if stop is not None:
            q = q.where(log_entries.c.idx < stop)
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                yield Entry(
                    row.idx, row.kind, bytes(row.leaf), bytes(row.leaf_hash), row.created_at
                )

    def _read_nodes(self, conn: Connection, keys: Sequence[int]) -> dict[int, bytes]:
        rows = conn.execute(
            select(log_nodes.c.key, log_nodes.c.hash).where(log_nodes.c.key.in_(list(keys)))
        )
        found = {int(k): bytes(h) for k, h in rows}
        missing = set(keys) - found.keys()
        if missing:
            raise VerificationError(f"log is missing tree nodes {sorted(missing)[:3]}")
        return found

    def _view(self, size: int | None, run: Any, conn: Connection | None = None) -> Any:
        """Run a proof algorithm over the stored nodes it needs: one connection, two reads."""
        if conn is None:
            with self.engine.connect() as own:
                return self._view(size, run, own)
        current = int(conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one())
        n = current if size is None else size
        if not 0 <= n <= current:
            raise RegistryError(f"the log has {current} entries, not {n}")
        rec = _Recorder(n)
        run(rec, n)
        nodes = self._read_nodes(conn, sorted(rec.keys)) if rec.keys else {}
        return run(_StoredTree(nodes, n), n)

    def root(self, size: int | None = None) -> bytes:
        return self._view(size, lambda t, n: t.root(n))  # type: ignore[no-any-return]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        def run(t: TreeView, n: int) -> list[bytes]:
            if not 0 <= index < n:
                raise RegistryError(f"entry {index} is not in a log of {n} entries")
            return t.inclusion_proof(index, n)

        return self._view(size, run)  # type: ignore[no-any-return]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        def run(t: TreeView, n: int) -> list[bytes]:
            if not 0 < old <= n:
                raise RegistryError(f"no consistency proof from {old} to {n}")
            return t.consistency_proof(old, n)

        return self._view(new, run)  # type: ignore[no-any-return]

    # -- checkpoints ---------------------------------------------------------------
    def checkpoint(self, signer: KeySigner, *, origin: str) -> str:
        """Sign the current head and keep the note; returns the signed note text.

        One checkpoint per size: asking again at an unchanged size returns the stored
        note, so a log never publishes two different signed heads for one tree. On
        SQLite the write-ahead log is flushed to disk before the note is returned.
        """
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        with self._writer.begin() as conn:
            size = int(conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one())
            stored = conn.execute(
                select(log_checkpoints.c.note).where(log_checkpoints.c.size == size)
            ).scalar_one_or_none()
            if stored is not None:
                note = str(stored)
            else:
                cp = Checkpoint(origin, size, self._view(size, lambda t, n: t.root(n), conn))
                note = sign_checkpoint(cp, signer)
                conn.execute(
                    log_checkpoints.insert().values(
                        size=size, root=cp.root, note=note, created_at=now
                    )
                )
        if not self._postgres:  # PostgreSQL commits durably by default
            self._flush_sqlite()
        return note

    def _flush_sqlite(self) -> None:
        # synchronous=NORMAL syncs the WAL at checkpoints; FULL waits for readers, then
        # writes and syncs everything committed so far (outside any transaction).
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(FULL)")  # type: ignore[union-attr]
        finally:
            raw.close()

    def nodes(self, level: int, start: int, count: int) -> list[bytes]:
        """``count`` consecutive perfect-subtree hashes of Merkle ``level`` from ``start``
        (a tlog tile); ``VerificationError`` if the log does not hold them all yet."""
        keys = [level * _LEVEL + start + i for i in range(count)]
        with self.engine.connect() as conn:
            found = self._read_nodes(conn, keys)
        return [found[k] for k in keys]

    def add_cosignatures(self, size: int, lines: Sequence[str]) -> str:
        """Append witness cosignature lines to the stored checkpoint at ``size`` (one line
        per witness key: a newer one replaces the older); returns the note. The caller has
        verified them; the signed text is untouched, so the log's signature still holds."""
        with self._writer.begin() as conn:
            note = conn.execute(
                select(log_checkpoints.c.note).where(log_checkpoints.c.size == size)
            ).scalar_one_or_none()
            if note is None:
                raise RegistryError(f"no checkpoint at size {size}")
            text, stored = split_note(str(note))
            added = split_note(text + "\n" + "".join(x.rstrip("\n") + "\n" for x in lines))[1]
            kept = {(x.name, x.key_id): x for x in [*stored, *added]}  # newer replaces older
            new = text + "\n" + "".join(x.line() for x in kept.values())
            conn.execute(
                update(log_checkpoints).where(log_checkpoints.c.size == size).values(note=new)
            )
        return new

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(log_checkpoints).order_by(log_checkpoints.c.size))
            return [(int(r.size), bytes(r.root), r.note) for r in rows]


def verify_log(store: LogStore) -> int:
    """Recompute the whole tree from the entries; check indices, nodes and checkpoints.

    Returns the verified size; raises ``VerificationError`` on any inconsistency.
    """
    size = store.size()
    nodes: dict[int, bytes] = {}
    expected = 0
    for e in store.entries():
        if e.index != expected:
            raise VerificationError(f"log index gap or duplicate at {expected} (found {e.index})")
        if leaf_hash(e.leaf) != e.leaf_hash:
            raise VerificationError(f"entry {e.index}: stored leaf hash does not match the leaf")
        for level, i, h in parents_completed_by(
            e.index, e.leaf_hash, lambda lv, j: nodes[lv * _LEVEL + j]
        ):
            nodes[level * _LEVEL + i] = h
        expected += 1
    if expected != size:
        raise VerificationError(f"head says {size} entries, table holds {expected}")
    with store.engine.connect() as conn:
        stored = {
            int(k): bytes(h) for k, h in conn.execute(select(log_nodes.c.key, log_nodes.c.hash))
        }
    if stored != nodes:
        bad = sorted(set(stored.items()) ^ set(nodes.items()))[:1]
        raise VerificationError(f"stored tree nodes differ from the entries at {bad and bad[0][0]}")
    for cp_size, root, _note in store.checkpoints():
        if cp_size > size or store.root(cp_size) != root:
            raise VerificationError(f"checkpoint at size {cp_size} does not match the log")
    return size


# ``writer`` is re-exported: callers that join a log append to their own transaction use it.
__all__ = ["Entry", "LogStore", "metadata", "node_hash", "verify_log", "writer"]
