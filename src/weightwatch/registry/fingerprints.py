"""Fingerprints held in the database, and each host's index as a cache of them.

The pipeline's fingerprint step stores a version's fingerprint (the ``.wwfp`` bytes and
its first-tier vector) in ``fingerprints``; its first decision appends the version to
``fingerprint_index``, whose ``seq`` numbers the order every host's hnswlib index adds
entries in. Before a search a host catches up from its last ``seq`` (one indexed query
when nothing is new), so a model registered through any host is matched on every host.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from weightwatch.fingerprint import Fingerprint
from weightwatch.lineage.index import Row
from weightwatch.registry import schema
from weightwatch.registry.store import Store, fp_path, now

BATCH = 5000


def put(conn: Connection, version_id: int, fp: Fingerprint, file: Path) -> None:
    """Store (replace) a version's fingerprint, in the step's transaction."""
    conn.execute(delete(schema.fingerprints).where(schema.fingerprints.c.version_id == version_id))
    conn.execute(
        insert(schema.fingerprints).values(
            version_id=version_id,
            vector=fp.index_vector().astype(np.float32).tobytes(),
            layers=fp.n_layers,
            data=file.read_bytes(),
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


def publish(conn: Connection, version_id: int) -> None:
    """Put a version in every host's index (its first decision's transaction)."""
    fi = schema.fingerprint_index
    have_fp = conn.execute(
        select(schema.fingerprints.c.version_id).where(
            schema.fingerprints.c.version_id == version_id
        )
    ).first()
    listed = conn.execute(select(fi.c.seq).where(fi.c.version_id == version_id)).first()
    if have_fp is not None and listed is None:
        conn.execute(insert(fi).values(version_id=version_id))


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
