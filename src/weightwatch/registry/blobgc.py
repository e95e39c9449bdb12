"""Which blobs may be deleted, and when: claims, confirmation and the collector.

The protocol (``docs/deployment.md``) keeps the collector from racing a registration in
flight on any host:

1. Before a registration stores a blob it *claims* the digest: a ``blob_claims`` row in
   state ``live`` with a fresh ``touched_at``, committed before the blob is given its name
   or found already stored (``BlobStore.ingest`` calls the claim: on a local store after
   the copy into an unlisted temporary, whose hashing is what yields the digest; on S3
   before the upload).
2. The step that records the version's files *confirms* its claims in the same
   transaction (touching them again) and fails if one is no longer live.
3. The collector deletes a blob only when no ``files`` row names it, its claim (if any)
   is older than the grace period, and the object itself was last written before it. It
   first flips the claim row to ``deleting`` in a transaction that re-checks the files;
   the row lock orders it against (1) and (2): whichever commits first wins, the other
   sees it. A claimer that finds ``deleting`` waits for the collector to finish (or takes
   over a row a dead collector left behind) and uploads again.

A crash anywhere leaves an unreferenced blob (reclaimed once the grace period has passed),
an unfinished multipart upload (aborted by ``gc_incoming`` after the grace period) or a
stale ``deleting`` row (taken over by the next claimer): never a deleted blob that a
visible version needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from weightwatch.errors import RegistryError, ServiceError
from weightwatch.registry import schema
from weightwatch.registry.store import Store

GRACE = 24 * 3600.0  # seconds: a registration must record its files within this
STALE_DELETING = 600.0  # a 'deleting' row this old was left by a collector that died
CLAIM_WAIT = 60.0
LIVE, DELETING = "live", "deleting"


def claim(store: Store, digest: str) -> None:
    """Claim ``digest`` for a registration about to store (or reuse) its blob."""
    claims = schema.blob_claims
    deadline = time.monotonic() + CLAIM_WAIT
    while True:
        t = time.time()
        try:
            with store.write.begin() as conn:
                took = conn.execute(
                    update(claims)
                    .where(
                        and_(
                            claims.c.digest == digest,
                            (claims.c.state == LIVE) | (claims.c.touched_at < t - STALE_DELETING),
                        )
                    )
                    .values(state=LIVE, touched_at=t)
                ).rowcount
                if took:
                    return
                if conn.execute(select(claims.c.state).where(claims.c.digest == digest)).first():
                    pass  # being deleted right now: wait below
                else:
                    conn.execute(insert(claims).values(digest=digest, state=LIVE, touched_at=t))
                    return
        except IntegrityError:
            continue  # another claimer or the collector inserted it first: look again
        if time.monotonic() > deadline:
            raise ServiceError(f"blob {digest[:12]}…: still being deleted after {CLAIM_WAIT}s")
        time.sleep(0.2)


def confirm(conn: Connection, digests: Iterable[str]) -> None:
    """In the transaction that records a version's files: every claim must still be live."""
    claims = schema.blob_claims
    t = time.time()
    for digest in sorted(set(digests)):
        ok = conn.execute(
            update(claims)
            .where(and_(claims.c.digest == digest, claims.c.state == LIVE))
            .values(touched_at=t)
        ).rowcount
        if not ok:
            raise RegistryError(
                f"blob {digest[:12]}… was collected before the registration recorded it "
                "(it took longer than the collector's grace period); register again"
            )


@dataclass(frozen=True)
class Collected:
    deleted: list[str]
    kept_claimed: int
    aborted_uploads: int
    scanned: int


def collect(store: Store, *, grace: float = GRACE, dry_run: bool = False) -> Collected:
    """Delete blobs no version references, older than ``grace`` seconds and unclaimed."""
    claims, files = schema.blob_claims, schema.files
    copies = schema.recipient_copies  # recipient copies' blobs (registry/recipients.py)
    aborted = 0 if dry_run else store.blobs.gc_incoming(older_than=grace)
    with store.engine.connect() as conn:
        referenced = set(conn.execute(select(files.c.sha256).distinct()).scalars())
        referenced |= set(conn.execute(select(copies.c.sha256).distinct()).scalars())
    now = time.time()
    listing = list(store.blobs.listing())
    old = [d for d, written in listing if d not in referenced and written <= now - grace]
    deleted: list[str] = []
    kept = 0
    for digest in old:
        if dry_run:
            deleted.append(digest)
            continue
        t = time.time()
        try:
            with store.write.begin() as conn:
                marked = conn.execute(
                    update(claims)
                    .where(
                        and_(
                            claims.c.digest == digest,
                            claims.c.state == LIVE,
                            claims.c.touched_at <= t - grace,
                        )
                    )
                    .values(state=DELETING, touched_at=t)
                ).rowcount
                if not marked:
                    if conn.execute(
                        select(claims.c.digest).where(claims.c.digest == digest)
                    ).first():
                        kept += 1  # claimed lately, or another collector has it
                        continue
                    conn.execute(insert(claims).values(digest=digest, state=DELETING, touched_at=t))
                if (
                    conn.execute(select(files.c.sha256).where(files.c.sha256 == digest)).first()
                    or conn.execute(
                        select(copies.c.sha256).where(copies.c.sha256 == digest)
                    ).first()
                ):
                    conn.execute(update(claims).where(claims.c.digest == digest).values(state=LIVE))
                    kept += 1
                    continue
        except IntegrityError:
            kept += 1
            continue
        store.blobs.delete(digest)
        with store.write.begin() as conn:
            conn.execute(
                delete(claims).where(and_(claims.c.digest == digest, claims.c.state == DELETING))
            )
        deleted.append(digest)
    return Collected(deleted, kept, aborted, len(listing))
