"""Fingerprints held in the database, and each host's index as a cache of them.

The pipeline's fingerprint step stores a version's fingerprint (the ``.wwfp`` bytes and
its first-tier vector) in ``fingerprints``; its first decision appends the version to
``fingerprint_index``, whose ``seq`` numbers the order every host's hnswlib index adds
entries in. Before a search a host catches up from its last ``seq`` (one indexed query
when nothing is new), so a model registered through any host is matched on every host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from weightwatch.errors import ArtifactError, WeightwatchError
from weightwatch.fingerprint import Fingerprint
from weightwatch.lineage.index import Row
from weightwatch.registry import schema
from weightwatch.registry.store import Store, fp_path, now

BATCH = 5000


def put(conn: Connection, version_id: int, fp: Fingerprint, data: bytes) -> None:
    """Store (replace) a version's fingerprint (``data``: its ``.wwfp`` bytes, read before
    the step's write transaction), in that transaction."""
    conn.execute(delete(schema.fingerprints).where(schema.fingerprints.c.version_id == version_id))
    conn.execute(
        insert(schema.fingerprints).values(
            version_id=version_id,
            vector=fp.index_vector().astype(np.float32).tobytes(),
            layers=fp.n_layers,
            data=data,
            created_at=now(),
        )
    )


def load(store: Store, version_id: int) -> Fingerprint | None:
    """A version's fingerprint: this host's cached file, else the database's copy."""
    path = fp_path(store, version_id)
    if not path.is_file():
        with store.engine.connect() as conn:
            data = conn.execute(
                select(schema.fingerprints.c.data).where(
                    schema.fingerprints.c.version_id == version_id
                )
            ).scalar_one_or_none()
        if data is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return Fingerprint.load(path)


def publish(conn: Connection, version_id: int) -> bool:
    """Put a version in every host's index (its first decision's transaction); False when
    it has no fingerprint or is listed already."""
    fi = schema.fingerprint_index
    have_fp = conn.execute(
        select(schema.fingerprints.c.version_id).where(
            schema.fingerprints.c.version_id == version_id
        )
    ).first()
    listed = conn.execute(select(fi.c.seq).where(fi.c.version_id == version_id)).first()
    if have_fp is not None and listed is None:
        conn.execute(insert(fi).values(version_id=version_id))
        return True
    return False


def fetch(store: Store, after: int) -> list[Row]:
    """The next batch of index rows after sequence number ``after``."""
    fi, fps = schema.fingerprint_index, schema.fingerprints
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(fi.c.seq, fi.c.version_id, fps.c.vector, fps.c.layers)
            .join(fps, fps.c.version_id == fi.c.version_id)
            .where(fi.c.seq > after)
            .order_by(fi.c.seq)
            .limit(BATCH)
        ).all()
    return [
        (int(seq), str(vid), np.frombuffer(vec, dtype=np.float32), int(layers))
        for seq, vid, vec, layers in rows
    ]


def catch_up(store: Store) -> int:
    """Bring this host's index up to the database; returns how many entries it added."""
    if store.index.loader is None:
        store.index.loader = lambda name: load(store, int(name)) if name.isdigit() else None
    return store.index.catch_up(lambda after: fetch(store, after))


@dataclass
class Backfilled:
    """What ``backfill`` did: versions whose fingerprint it copied into the database,
    versions it put in the shared index, those already there, and those whose report says
    they were fingerprinted but whose file this host lacks (or cannot read)."""

    stored: list[int] = field(default_factory=list)
    indexed: list[int] = field(default_factory=list)
    present: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)


def _legacy_file(store: Store, version_id: int) -> Path | None:
    """Where a registry from before the database held fingerprints kept this version's:
    the pipeline's file, else the copy in this host's index (named by version id)."""
    path = fp_path(store, version_id)
    if path.is_file():
        return path
    entry_id = store.index.entry_id(str(version_id))
    if entry_id is None:
        return None
    copy = store.index.root / "fingerprints" / f"{entry_id}.wwfp"
    return copy if copy.is_file() else None


def _fingerprinted(body: str) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("fingerprinted") is True


def backfill(store: Store) -> Backfilled:
    """Give fingerprints registered before migration 0009 (files on the registering host,
    no database rows) their rows, and list complete versions in ``fingerprint_index`` so
    every host's index has them. Idempotent: run it again and it adds nothing.

    Run on the host that registered them (their files are there). Versions are taken in
    id order, so other hosts' indexes add them in registration order."""
    done = Backfilled()
    v, fps, rep = schema.versions.c, schema.fingerprints.c, schema.reports.c
    with store.engine.connect() as conn:
        versions = conn.execute(select(v.id, v.state).order_by(v.id)).all()
        have = set(conn.execute(select(fps.version_id)).scalars())
        fingerprinted = {
            int(vid)
            for vid, body in conn.execute(
                select(rep.version_id, rep.body).where(rep.kind == "fingerprint")
            )
            if _fingerprinted(body)
        }
    for vid, state in versions:
        vid = int(vid)
        if vid in have:
            done.present += 1
        else:
            path = _legacy_file(store, vid)
            if path is None:
                if vid in fingerprinted:
                    done.missing.append((vid, f"{fp_path(store, vid)}: no such file"))
                continue
            try:  # read and check outside the write transaction
                data = path.read_bytes()
                fp = Fingerprint.load(path)
            except (OSError, ArtifactError, WeightwatchError, ValueError) as exc:
                done.missing.append((vid, f"{path}: cannot read ({exc})"))
                continue
            with store.write.begin() as conn:
                if conn.execute(select(fps.version_id).where(fps.version_id == vid)).first():
                    done.present += 1  # another process stored it meanwhile
                else:
                    put(conn, vid, fp, data)
                    done.stored.append(vid)
        if state == "complete":
            with store.write.begin() as conn:
                if publish(conn, vid):
                    done.indexed.append(vid)
    return done
