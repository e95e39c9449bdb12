"""Content-addressed blob stores: files by their SHA-256, on a local disk or an S3 store.

``BlobStore`` is what the registry needs of one; ``LocalBlobs`` keeps blobs in a folder
(the single-machine default), ``weightwatch.registry.s3blobs.S3Blobs`` in any
S3-compatible object store shared by several hosts; ``blob_backends.open_blobs`` picks one
from a URL.

Registration stores a model's files with ``ingest``, which reads each source byte from
disk once: locally, the kernel copies every file into a temporary file in the store and
its SHA-256 is computed over the copy's pages in the page cache (or, where the kernel
cannot copy, from the buffer a read-hash-write loop writes); only then is the digest known,
so the caller's ``claim`` (the collector's protocol, ``registry/blobgc.py``) runs after
the copy and before the temporary is renamed to the digest's name (or dropped, when that
blob is already there: its dirty pages are discarded, never written). A temporary is
``fsync``-ed before its rename and the fan-out folders after: a crash leaves either the
whole blob under its name or a stray temporary (swept by ``gc_incoming``), never a
truncated blob under a valid name. Reads hand out paths: the pipeline links them into a
read-only work tree instead of copying multi-GB files again, and the steps after ingest
read those links from the page cache the copy filled (the source's own pages are dropped
once copied, so one copy of the model, not two, competes for memory). Which blobs may be
deleted is decided by ``registry/blobgc.py``, never by a store.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from io import FileIO
from pathlib import Path
from typing import Protocol

from weightwatch.errors import ArtifactError, RegistryError
from weightwatch.identity.hashing import hash_file as identity_hash
from weightwatch.identity.hashing import slices

CHUNK = 8 * 1024 * 1024
HEX = frozenset("0123456789abcdef")


def check_digest(digest: str) -> str:
    if len(digest) != 64 or not set(digest) <= HEX:
        raise RegistryError(f"not a blob digest: {digest!r}")
    return digest


def hash_file(source: Path) -> tuple[str, int]:
    """(sha256 hex, size) of a local file, through identity's mapped reader."""
    try:
        return identity_hash(source, "sha256"), source.stat().st_size
    except OSError as exc:
        raise ArtifactError(source, f"cannot read: {exc.strerror or exc}") from exc


Claim = Callable[[str], None]


class BlobStore(Protocol):
    """What the registry asks of a blob store. Keys are SHA-256 hex digests."""

    url: str

    def put(self, source: Path, *, digest: str | None = None) -> tuple[str, int]:
        """Store ``source``; (sha256, size). Idempotent. ``digest``, if given, is what the
        caller hashed before (to claim it); a file that changed since is refused."""
        ...

    def ingest(self, sources: Sequence[Path], claim: Claim) -> list[tuple[str, int]]:
        """Store each of ``sources``; their (sha256, size) in order. ``claim(digest)`` is
        called once per file after its bytes are hashed and before a blob of that digest
        is made visible or found already stored (the collector's protocol); if it raises,
        nothing more is published and the exception propagates."""
        ...

    def exists(self, digest: str) -> bool: ...
    def size(self, digest: str) -> int | None: ...
    def read(self, digest: str, limit: int) -> bytes:
        """At most ``limit`` bytes from the start of a blob (cards, small files)."""
        ...

    def chunks(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The blob's bytes ``start..end`` (inclusive; ``None``: to the end), streamed."""
        ...

    def local_path(self, digest: str) -> Path | None:
        """A path on this host, where the store is a local folder."""
        ...

    def presign(self, digest: str, *, filename: str, expires: int) -> str | None:
        """A URL that fetches the blob without credentials for ``expires`` seconds
        (``None``: the store cannot hand out such URLs)."""
        ...

    def link_tree(self, entries: list[tuple[str, str]], dest: Path) -> Path:
        """Build ``dest`` as a folder of (relative path -> blob) files on this host."""
        ...

    def listing(self) -> Iterator[tuple[str, float]]:
        """Every stored blob: (digest, unix time it was last written)."""
        ...

    def delete(self, digest: str) -> None: ...
    def gc_incoming(self, *, older_than: float = 0.0) -> int:
        """Remove what writers that died left half-written; returns how many."""
        ...


class LocalBlobs:
    """Blobs under ``root/ab/cdef…`` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.root.stat().st_mode & 0o077:  # restricted and withdrawn weights live here
            self.root.chmod(0o700)

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:]

    def local_path(self, digest: str) -> Path | None:
        return self.path(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int | None:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: str, limit: int) -> bytes:
        with open(self.path(digest), "rb") as fh:
            return fh.read(limit)

    def chunks(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self.path(digest), "rb") as fh:
            fh.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def presign(self, digest: str, *, filename: str, expires: int) -> str | None:
        return None

    def put(self, source: Path, *, digest: str | None = None) -> tuple[str, int]:
        """Store a copy of ``source``; returns (sha256 hex, size). Idempotent."""

        def check(got: str) -> None:
            if digest is not None and got != digest:
                raise ArtifactError(source, "changed while it was being stored")

        return self.ingest([source], check)[0]

    def ingest(self, sources: Sequence[Path], claim: Claim) -> list[tuple[str, int]]:
        """Copy each source into a temporary in the store, hashing the same buffer (one
        read of each byte); then per file ``claim`` its digest and either drop the copy
        (that blob is already stored: its writes never reach the disk) or make it durable
        and rename it into place. Temporaries not published are removed on any failure."""
        staged: list[tuple[Path, Path, str, int]] = []  # source, temporary, digest, size
        try:
            for source in sources:
                staged.append((source, *self._stage(source)))
            out: list[tuple[str, int]] = []
            folders: set[Path] = set()
            for i, (source, tmp, digest, size) in enumerate(staged):
                claim(digest)
                folders.add(self._publish(source, tmp, digest))
                staged[i] = (source, Path(), digest, size)  # published: nothing to remove
                out.append((digest, size))
            for folder in sorted(folders | ({self.root} if folders else set())):
                _sync_dir(folder)  # the renames (and a new fan-out folder) made durable
            return out
        finally:
            for _, tmp, _, _ in staged:
                if tmp != Path():
                    with contextlib.suppress(OSError):
                        tmp.unlink()

    def _stage(self, source: Path) -> tuple[Path, str, int]:
        """Copy ``source`` to a new temporary and hash the copy: (temporary, sha256, size).

        The kernel copies (``copy_file_range``: no pass through this process's memory),
        then SHA-256 runs over the temporary's pages, which the copy has just put in the
        page cache: the source is read from the disk once, and the digest is that of
        the bytes stored whatever happens to the source meanwhile (the temporary is ours
        alone). Where the kernel cannot copy between these files, a read-hash-write loop
        does the same in one pass.
        """
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise ArtifactError(source, f"cannot read: {exc.strerror or exc}") from exc
        try:
            fd, name = tempfile.mkstemp(dir=self.root, prefix=f".incoming-{os.getpid()}-")
        except OSError as exc:
            src.close()
            raise ArtifactError(source, f"cannot store: {exc.strerror or exc}") from exc
        tmp = Path(name)
        try:
            with os.fdopen(fd, "r+b", buffering=0) as out, src:
                digest = _kernel_copy(src, out)
                if digest is None:
                    digest = _copy_hashing(src, out)
                _forget(src.fileno())
                size = os.fstat(out.fileno()).st_size
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise ArtifactError(source, f"cannot copy: {exc.strerror or exc}") from exc
            raise
        return tmp, digest, size

    def _publish(self, source: Path, tmp: Path, digest: str) -> Path:
        """Make a temporary durable and rename it to its digest's name (or drop it: that
        blob is already stored); returns the folder that changed."""
        final = self.path(digest)
        try:
            final.parent.mkdir(exist_ok=True)
            if final.exists():
                tmp.unlink()
                os.utime(final)  # written again: the collector's grace period restarts
            else:
                _durable(source, tmp)  # whole on disk before it has a name
                tmp.replace(final)
                final.chmod(0o400)  # read-only, and for the registry's account only
        except OSError as exc:
            raise ArtifactError(source, f"cannot store: {exc.strerror or exc}") from exc
        return final.parent

    def link_tree(self, entries: list[tuple[str, str]], dest: Path) -> Path:
        """Build ``dest`` as a folder of (relative path -> blob) links (copies across devices)."""

        def place(digest: str, target: Path) -> None:
            try:
                os.link(self.path(digest), target)
            except OSError:
                shutil.copyfile(self.path(digest), target)

        return build_tree(entries, dest, place)

    def listing(self) -> Iterator[tuple[str, float]]:
        for sub in self.root.iterdir():
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for p in sub.iterdir():
                digest = sub.name + p.name
                if len(digest) == 64 and set(digest) <= HEX:
                    with contextlib.suppress(FileNotFoundError):
                        yield digest, p.stat().st_mtime

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def gc_incoming(self, *, older_than: float = 0.0) -> int:
        """Remove temporaries that writers which have died left behind; returns how many.

        A temporary is named after its writer's process id; live writers' files are left
        alone (another process may be storing a blob right now).
        """
        n = 0
        cutoff = time.time() - older_than
        for p in self.root.glob(".incoming-*"):
            pid = p.name.split("-")[1]
            if pid.isdigit() and _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if p.stat().st_mtime <= cutoff:
                    p.unlink()
                    n += 1
        return n


def build_tree(
    entries: list[tuple[str, str]], dest: Path, place: Callable[[str, Path], None]
) -> Path:
    """Build ``dest`` from (relative path, digest) pairs, ``place(digest, target)`` writing
    each file, in a sibling folder that replaces ``dest`` only once it is whole (a failure
    removes it and leaves ``dest`` as it was)."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, digest in entries:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            place(digest, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest


def _kernel_copy(src: FileIO, out: FileIO) -> str | None:
    """Copy ``src`` into the empty ``out`` in the kernel and hash ``out``; None (``out``
    left empty) where ``copy_file_range`` does not work between these files."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return None
    try:
        while copy(src.fileno(), out.fileno(), CHUNK * 8):
            pass
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        src.seek(0)
        out.seek(0)
        out.truncate(0)
        return None
    out.seek(0)
    h = hashlib.sha256()
    for piece in slices(out):
        h.update(piece)
    return h.hexdigest()


def _copy_hashing(src: FileIO, out: FileIO) -> str:
    """The portable copy: read, hash the same buffer, write."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := src.readinto(buf):
        piece = view[:n]
        h.update(piece)
        while piece:  # a raw write may take less than it was given
            piece = piece[out.write(piece) or 0 :]
    return h.hexdigest()


def _forget(fd: int) -> None:
    """Drop a copied source's pages from the page cache: nothing reads the source again
    (the steps read the copy), and a model near the size of memory then keeps its copy,
    not two, cached for identity and the fingerprint. Pages another process maps stay."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _durable(source: Path, tmp: Path) -> None:
    """Flush a staged copy to disk (before it gets a name a crash could leave truncated)."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ArtifactError(source, f"cannot store: {exc.strerror or exc}") from exc


def _sync_dir(folder: Path) -> None:
    """Make renames into ``folder`` durable (where the platform lets a folder be synced)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
