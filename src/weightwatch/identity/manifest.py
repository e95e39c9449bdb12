"""The ``Manifest``: per-file digests plus the weights and value identities of a model.

``compute_manifest`` hashes files in parallel on all cores. For safetensors, tensor digests
come from a second, low-priority sequential reader that trails the file digest through
the page cache (tensor data are byte ranges of the file); other formats read tensors
through the artifact layer afterwards (also from the page cache).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from weightwatch.artifacts import Artifact, FileFormat, open_artifact
from weightwatch.artifacts.safetensors import read_header
from weightwatch.errors import ArtifactError
from weightwatch.identity.hashing import digest_fn, hash_file, new_hasher, slices
from weightwatch.identity.tensors import (
    IDENTITY_ALGORITHM,
    TensorDigest,
    data_hasher,
    finish,
    tensor_digest,
    value_digests,
)
from weightwatch.merkle import MerkleTree, leaf_hash
from weightwatch.reports import Record, Report

READ_CHUNK = 16 * 1024 * 1024
# Files hashed at once. More streams than cores, because one SHA-256 cannot be split: with
# 3 equal shards on 2 cores, 2 streams leave a core idle for the last shard, 3 streams
# finish together (measured 1.58 -> see docs/benchmarks.md). Bounded for spinning disks.
FILE_STREAMS = 8
# What OpenSSF model signing leaves out by default; a signature file inside the folder is
# added by the signer. Paths are relative to the model folder; a folder ignores its contents.
DEFAULT_IGNORE = (".git", ".gitignore", ".gitattributes", ".github")


class FileEntry(Record):
    path: str
    size: int
    digest: str
    symlink: str | None = None


class TensorEntry(Record):
    name: str
    dtype: str
    shape: list[int]
    digest: str


class ManifestDiff(Record):
    changed: list[str]
    missing: list[str]
    added: list[str]

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.added)


class Manifest(Report):
    """What a model is, by content. Its ``canonical_json`` is what gets signed."""

    algorithm: str  # of the file digests
    identity_algorithm: str = IDENTITY_ALGORITHM  # of the weights and value digests
    files: list[FileEntry]
    weights_digest: str | None  # Merkle root over tensor digests (name, dtype, shape, bytes)
    value_digest: str | None  # Merkle root over value digests (HF name, shape, float32 values)
    tensors: list[TensorEntry]

    def diff_files(self, other: Manifest) -> ManifestDiff:
        """Files of ``other`` (e.g. what is on disk now) against this (what was signed)."""
        mine = {f.path: f for f in self.files}
        theirs = {f.path: f for f in other.files}
        return ManifestDiff(
            changed=sorted(p for p in mine.keys() & theirs.keys() if mine[p] != theirs[p]),
            missing=sorted(mine.keys() - theirs.keys()),
            added=sorted(theirs.keys() - mine.keys()),
        )


def _ignored(rel: str, ignore: Sequence[str]) -> bool:
    return any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in ignore)


def list_files(root: Path, ignore: Sequence[str] = DEFAULT_IGNORE) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every file, sorted, links listed but not followed."""
    if root.is_file():
        return [(root.name, root)]
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not _ignored((base / d).relative_to(root).as_posix(), ignore)
        )
        links = [d for d in dirnames if (base / d).is_symlink()]
        for name in sorted([*filenames, *links]):
            rel = (base / name).relative_to(root).as_posix()
            if not _ignored(rel, ignore):
                out.append((rel, base / name))
    out.sort(key=lambda item: item[0])
    return out


def compute_manifest(
    path: str | os.PathLike[str],
    *,
    algorithm: str = "sha256",
    tensors: bool = True,
    ignore: Sequence[str] = DEFAULT_IGNORE,
    progress: Callable[[int, int], None] | None = None,
    known: Mapping[str, str] | None = None,
) -> Manifest:
    """Digest every file, and (``tensors=True``) the weights and value identities.
    ``progress(done, total)`` is called with bytes hashed so far (from worker threads).
    ``known`` maps relative paths to ``algorithm`` digests the caller already computed
    from these very bytes (the registry's ingest, from a content-addressed store): those
    files are not read again for their digest."""
    root = Path(path)
    if not root.exists():
        raise ArtifactError(root, "no such file or directory")
    art = open_artifact(root) if tensors else None
    files = list_files(root, ignore)
    single_pass = _single_pass_files(art)
    total = sum(p.stat().st_size for _, p in files if not p.is_symlink())
    done = [0]
    lock = threading.Lock()

    def hashed(n: int) -> None:
        with lock:
            done[0] += n
            if progress is not None:
                progress(done[0], total)

    tensor_map: dict[str, TensorDigest] = {}

    def one(item: tuple[str, Path]) -> FileEntry:
        rel, p = item
        if p.is_symlink():
            target = str(p.readlink())
            h = new_hasher(algorithm)
            h.update(b"symlink:" + target.encode())
            return FileEntry(path=rel, size=0, digest=h.hexdigest(), symlink=target)
        digest = (known or {}).get(rel) or hash_file(
            p, algorithm, threads=len(files) == 1, on_bytes=hashed
        )
        return FileEntry(path=rel, size=p.stat().st_size, digest=digest)

    def tensors_of(item: tuple[str, Path]) -> dict[str, TensorDigest]:
        rel, p = item
        return _hash_safetensors_tensors(p, rel)

    workers = os.cpu_count() or 1
    try:
        # File digests (the interop contract) run at normal priority; tensor digests of
        # the same files run beside them at the lowest priority, a little behind, so
        # they read what the file pass just pulled into the page cache and use only
        # the CPU time the file digests leave idle (e.g. the core a last, lone SHA-256
        # cannot use). Both passes read sequentially, so a cold disk keeps readahead.
        with (
            ThreadPoolExecutor(
                max_workers=min(max(workers, FILE_STREAMS), max(1, len(files)))
            ) as pool,
            ThreadPoolExecutor(max_workers=workers, initializer=_background) as side,
        ):
            pending = [side.submit(tensors_of, f) for f in files if f[0] in single_pass]
            entries = list(pool.map(one, files))
            for fut in pending:
                tensor_map.update(fut.result())
    except OSError as exc:
        raise ArtifactError(
            getattr(exc, "filename", root) or root, f"cannot read: {exc.strerror}"
        ) from exc
    if art is None:
        return Manifest(
            algorithm=algorithm, files=entries, weights_digest=None, value_digest=None, tensors=[]
        )
    kept, _ = art.canonical_tensors
    # Tensors the single pass did not cover (GGUF, .bin), in parallel: BLAKE3 releases the GIL.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = list(pool.map(lambda t: tensor_map.get(t.name) or tensor_digest(t), kept))
    values = value_digests(art, known={d.name: d for d in digests})
    return Manifest(
        algorithm=algorithm,
        files=entries,
        weights_digest=_root(digests),
        value_digest=_root(values),
        tensors=[
            TensorEntry(name=d.name, dtype=d.dtype, shape=list(d.shape), digest=d.digest.hex())
            for d in digests
        ],
    )


def _root(digests: Sequence[TensorDigest]) -> str | None:
    if not digests:
        return None
    h = digest_fn(IDENTITY_ALGORITHM)
    return MerkleTree([leaf_hash(d.digest, h) for d in digests], h).root().hex()


def _single_pass_files(art: Artifact | None) -> set[str]:
    if art is None:
        return set()
    fmt = {f.path: f.format for f in art.files}
    return {p for p in art.primary_files if fmt.get(p) is FileFormat.SAFETENSORS}


def _background() -> None:
    """Lower this worker thread's CPU priority (Linux applies nice per thread)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _hash_safetensors_tensors(path: Path, rel: str) -> dict[str, TensorDigest]:
    """Every tensor's digest from its byte range, read sequentially in offset order."""
    hdr = read_header(path, rel=rel)
    ranges = sorted(((off, info) for info, off in hdr.tensors), key=lambda r: r[0])
    found: dict[str, TensorDigest] = {}
    size = path.stat().st_size
    with open(path, "rb", buffering=0) as f:
        for off, info in ranges:
            if off + info.nbytes > size:
                raise ArtifactError(path, f"tensor {info.name!r} runs past the end of the file")
            h = data_hasher()
            for piece in slices(f, off, off + info.nbytes, READ_CHUNK):
                h.update(piece)
            found[info.name] = finish(info.name, info.dtype, info.shape, h.digest())
    return found
