"""Moving a registry's blobs to another store (``weightwatch registry migrate-blobs``).

Copies every blob a version references, checking each one's SHA-256 on the way (the
target's ``put`` refuses a mismatch), and skips blobs the target already holds: safe to
run again after an interruption, and while the registry keeps serving from the old store.
Nothing is deleted from the source; switch hosts over by setting ``WEIGHTWATCH_BLOBS_URL``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from weightwatch.errors import RegistryError
from weightwatch.registry import schema
from weightwatch.registry.blob_backends import open_blobs
from weightwatch.registry.blobs import BlobStore
from weightwatch.registry.store import Store


@dataclass(frozen=True)
class Migrated:
    target: str
    copied: int
    skipped: int
    bytes_copied: int


def migrate_blobs(
    store: Store, target_url: str, *, on_blob: Callable[[str, int], None] | None = None
) -> Migrated:
    target: BlobStore = open_blobs(target_url, store.root)
    if target.url == store.blobs.url:
        raise RegistryError(f"{target_url}: that is the store the registry already uses")
    with store.engine.connect() as conn:
        blobs = conn.execute(select(schema.files.c.sha256, schema.files.c.size).distinct()).all()
    copied = skipped = nbytes = 0
    for digest, size in sorted(blobs):
        if target.size(digest) == size:
            skipped += 1
            continue
        local = store.blobs.local_path(digest)
        if local is not None:
            if not local.is_file():
                raise RegistryError(f"blob {digest} is missing from {store.blobs.url}")
            target.put(local, digest=digest)
        else:
            scratch = store.root / "tmp"
            scratch.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=scratch, prefix="migrate-")
            try:
                with open(fd, "wb") as out:
                    for chunk in store.blobs.chunks(digest):
                        out.write(chunk)
                target.put(Path(name), digest=digest)
            finally:
                with contextlib.suppress(OSError):
                    Path(name).unlink()
        copied += 1
        nbytes += int(size)
        if on_blob is not None:
            on_blob(digest, int(size))
    return Migrated(target.url, copied, skipped, nbytes)
