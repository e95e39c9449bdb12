"""Content-addressed blob store on the local filesystem: files by their SHA-256.

Writes stream through the hash into a temporary file in the store and are renamed into
place, so a crash leaves either the whole blob or a stray temporary (swept by ``gc``),
never a truncated blob under a valid name. Reads hand out paths: the pipeline links them
into a read-only work tree instead of copying multi-GB files again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from weightwatch.errors import ArtifactError, RegistryError

CHUNK = 8 * 1024 * 1024


class BlobStore(Protocol):
    def put(self, source: Path) -> tuple[str, int]: ...
    def path(self, digest: str) -> Path: ...
    def exists(self, digest: str) -> bool: ...


class LocalBlobs:
    """Blobs under ``root/ab/cdef…`` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.root.stat().st_mode & 0o077:  # restricted and withdrawn weights live here
            self.root.chmod(0o700)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise RegistryError(f"not a blob digest: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, source: Path) -> tuple[str, int]:
        """Store a copy of ``source``; returns (sha256 hex, size). Idempotent."""
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".incoming-{os.getpid()}-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb", buffering=0) as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            final = self.path(digest)
            final.parent.mkdir(exist_ok=True)
            if final.exists():
                Path(tmp).unlink()
            else:
                Path(tmp).replace(final)
                final.chmod(0o400)  # read-only, and for the registry's account only
            return digest, size
        except OSError as exc:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise ArtifactError(source, f"cannot store: {exc.strerror or exc}") from exc

    def link_tree(self, entries: list[tuple[str, str]], dest: Path) -> Path:
        """Build ``dest`` as a folder of (relative path -> blob) links (copies across devices)."""
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, digest in entries:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.path(digest), target)
            except OSError:
                shutil.copyfile(self.path(digest), target)
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.replace(dest)
        return dest

    def gc_incoming(self) -> int:
        """Remove temporaries that writers which have died left behind; returns how many.

        A temporary is named after its writer's process id; live writers' files are left
        alone (another process may be storing a blob right now).
        """
        n = 0
        for p in self.root.glob(".incoming-*"):
            pid = p.name.split("-")[1]
            if pid.isdigit() and _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
        return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
