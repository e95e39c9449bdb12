"""Streaming file digests at disk speed: large reads, files hashed in parallel.

SHA-256 is the default because OpenSSF model signing records per-file SHA-256 digests
and our manifests must be comparable with theirs; BLAKE3 is faster and parallel inside
one file, for when interop does not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

ALGORITHMS = ("sha256", "blake3")
CHUNK = 8 * 1024 * 1024


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
    """Hex digest of a whole file, read in 8 MiB chunks into one reused buffer."""
    h = new_hasher(algorithm, threads=threads)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
