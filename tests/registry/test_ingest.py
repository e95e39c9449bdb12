"""Ingest reads each byte once: every file's SHA-256 is computed once in a registration,
from the bytes the blob store copies; the collector's claim still precedes the blob's name;
a registration killed mid-copy leaves nothing visible and nothing the collector misses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest

from weightwatch.errors import ArtifactError, RegistryError
from weightwatch.identity.manifest import DEFAULT_IGNORE, list_files
from weightwatch.registry import Registry, blobgc
from weightwatch.registry.blobs import LocalBlobs


class _Counting:
    """A real SHA-256 that records, at ``hexdigest``, how many bytes it was fed."""

    seen: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, real: Any, data: bytes = b"") -> None:
        self._h, self._n = real(), 0
        if data:
            self.update(data)

    def update(self, data: Any, /) -> None:
        self._h.update(data)
        self._n += memoryview(data).nbytes

    def digest(self) -> bytes:
        return bytes(self._h.digest())

    def hexdigest(self) -> str:
        out = str(self._h.hexdigest())
        _Counting.seen.append((out, self._n))
        return out

    def copy(self) -> Any:
        return self._h.copy()

    @property
    def name(self) -> str:
        return "sha256"

    @property
    def digest_size(self) -> int:
        return 32

    @property
    def block_size(self) -> int:
        return 64


def test_register_hashes_each_file_once(tmp_path, llama_family, monkeypatch):
    """Every SHA-256 computed during ``register`` is counted; each file's digest must be
    produced once, over exactly the file's bytes (the old ingest hashed twice: once to
    claim the digest, once while copying)."""
    real = hashlib.sha256
    _Counting.seen = []
    monkeypatch.setattr(hashlib, "sha256", lambda data=b"", **_: _Counting(real, data))
    reg = Registry.open(tmp_path / "reg", init=True)
    assert reg.register(llama_family.base, "org/base").state == "complete"
    monkeypatch.setattr(hashlib, "sha256", real)
    files = {rel: p.stat().st_size for rel, p in list_files(llama_family.base, DEFAULT_IGNORE)}
    stored = reg.files(reg.versions_of("org", "base")[0].id)
    assert {f.path for f in stored} == set(files) and len(files) >= 3
    counts = Counter(d for d, _ in _Counting.seen)
    for f in stored:
        fed = [n for d, n in _Counting.seen if d == f.sha256]
        assert counts[f.sha256] == 1, f"{f.path} hashed {counts[f.sha256]} times: {fed}"
        assert fed == [files[f.path]]


def _local(root: Path) -> str:
    return f"file://{root / 'blobs'}"  # these tests are about the local store


def _store(tmp_path: Path) -> LocalBlobs:
    return LocalBlobs(tmp_path / "blobs")


def _names(blobs: LocalBlobs) -> set[str]:
    return {d for d, _ in blobs.listing()}


def test_the_claim_comes_after_the_copy_and_before_the_name(tmp_path):
    blobs = _store(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    b.write_bytes(b"config")
    order: list[tuple[str, bool, int]] = []

    def claim(digest: str) -> None:  # what is on disk at the moment of each claim
        order.append((digest, blobs.exists(digest), len(list(blobs.root.glob(".incoming-*")))))

    out = blobs.ingest([a, b], claim)
    assert out == [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size) for p in (a, b)]
    # each digest claimed before it had a name; both copies already staged at the first
    assert order == [(out[0][0], False, 2), (out[1][0], False, 1)]
    assert _names(blobs) == {out[0][0], out[1][0]}
    assert list(blobs.root.glob(".incoming-*")) == []
    assert blobs.path(out[0][0]).read_bytes() == a.read_bytes()
    assert blobs.ingest([a], claim) == out[:1]  # idempotent, claimed again
    assert len(order) == 3


def test_where_the_kernel_cannot_copy_the_portable_loop_stores_the_same(tmp_path, monkeypatch):
    import errno

    def refuse(*args: Any) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    src = tmp_path / "w"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    kernel = _store(tmp_path / "k").ingest([src], lambda d: None)
    monkeypatch.setattr(os, "copy_file_range", refuse)
    blobs = _store(tmp_path / "p")
    assert blobs.ingest([src], lambda d: None) == kernel
    assert kernel[0] == (hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_size)
    assert blobs.path(kernel[0][0]).read_bytes() == src.read_bytes()


def test_a_refused_claim_publishes_nothing_and_leaves_no_temporary(tmp_path):
    blobs = _store(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    claimed: list[str] = []

    def claim(digest: str) -> None:
        if claimed:
            raise RegistryError("the collector has it")
        claimed.append(digest)

    with pytest.raises(RegistryError):
        blobs.ingest([a, b], claim)
    assert _names(blobs) == set(claimed)  # the first, claimed, is stored; not the second
    assert list(blobs.root.glob(".incoming-*")) == []


def test_put_refuses_a_file_that_is_not_what_the_caller_hashed(tmp_path):
    blobs = _store(tmp_path)
    src = tmp_path / "w"
    src.write_bytes(b"now")
    with pytest.raises(ArtifactError, match="changed while it was being stored"):
        blobs.put(src, digest=hashlib.sha256(b"before").hexdigest())
    assert _names(blobs) == set() and list(blobs.root.glob(".incoming-*")) == []


def test_an_unreadable_source_is_named(tmp_path):
    blobs = _store(tmp_path)
    with pytest.raises(ArtifactError) as err:
        blobs.ingest([tmp_path / "missing.safetensors"], lambda d: None)
    assert "missing.safetensors" in str(err.value) and "cannot read" in str(err.value)
    assert list(blobs.root.glob(".incoming-*")) == []


@pytest.mark.parametrize("collector_first", [True, False])
def test_a_collection_at_the_claim_never_loses_the_blob(tmp_path, llama_family, collector_first):
    """The collector runs at the worst moment: the copy is staged, its digest known, the
    same blob already stored, old and unreferenced. Before the claim it deletes that blob
    (the registration then names its own copy); after the claim it must keep it."""
    reg = Registry.open(tmp_path / "reg", init=True, blobs=_local(tmp_path / "reg"))
    store = reg.store
    src = tmp_path / "w.bin"
    src.write_bytes(os.urandom(100_000))
    digest, _ = store.blobs.put(src)
    old = blobgc.GRACE * 2
    path = store.blobs.local_path(digest)
    assert path is not None
    os.utime(path, (path.stat().st_atime - old, path.stat().st_mtime - old))
    collected: list[list[str]] = []

    def claim(d: str) -> None:
        if collector_first:
            collected.append(blobgc.collect(store).deleted)
        blobgc.claim(store, d)
        if not collector_first:
            collected.append(blobgc.collect(store).deleted)

    assert store.blobs.ingest([src], claim) == [(digest, 100_000)]
    assert collected == ([[digest]] if collector_first else [[]])
    assert store.blobs.exists(digest) and path.read_bytes() == src.read_bytes()
    reg.close()


KILLER = """
import hashlib, os, signal, sys
from weightwatch.registry import Registry, blobs
blobs.CHUNK = 64 * 1024
real, fed = hashlib.sha256, [0]

class Dying:
    def __init__(self, data=b""):
        self.h = real(data)
    def update(self, data):
        self.h.update(data)
        fed[0] += len(data)
        if fed[0] > int(sys.argv[4]):  # killed in the middle of the copy
            os.kill(os.getpid(), signal.SIGKILL)
    def hexdigest(self):
        return self.h.hexdigest()
    def digest(self):
        return self.h.digest()

hashlib.sha256 = Dying
copy = os.copy_file_range


def copying(src, dst, count, *rest):  # the kernel's copy, cut short the same way
    got = copy(src, dst, min(count, blobs.CHUNK), *rest)
    fed[0] += got
    if fed[0] > int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
    return got


os.copy_file_range = copying
Registry.open(sys.argv[1], blobs=sys.argv[5]).register(sys.argv[2], sys.argv[3])
"""


@pytest.mark.slow
def test_a_registration_killed_mid_copy_leaves_nothing_and_resumes(tmp_path, llama_family):
    root = tmp_path / "reg"
    Registry.open(root, init=True, blobs=_local(root)).close()
    files = list_files(llama_family.base, DEFAULT_IGNORE)
    biggest = max(p.stat().st_size for _, p in files)
    assert biggest > 4 * 64 * 1024
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLER,
            str(root),
            str(llama_family.base),
            "org/base",
            str(biggest // 2),
            _local(root),
        ],
        env=os.environ.copy(),
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    staged = list((root / "blobs").glob(".incoming-*"))  # the dead writer's copies
    assert staged and all(p.stat().st_size <= biggest for p in staged)
    assert any(0 < p.stat().st_size < biggest for p in staged)  # cut in the middle
    assert [p for p in (root / "blobs").iterdir() if not p.name.startswith(".")] == []
    reg = Registry.open(root, blobs=_local(root))  # opening sweeps dead writers' copies
    blobs = reg.store.blobs
    assert isinstance(blobs, LocalBlobs)
    with pytest.raises(RegistryError, match="no registered version"):
        reg.status("org/base")
    assert _names(blobs) == set()  # no blob under any name, whole or truncated
    assert list(blobs.root.glob(".incoming-*")) == []
    assert reg.resume() == ["done"]
    assert reg.status("org/base").state == "complete"
    stored = reg.files(reg.versions_of("org", "base")[0].id)
    assert {f.path: f.sha256 for f in stored} == {
        rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in files
    }
    assert all(
        blobs.path(f.sha256).read_bytes() == (llama_family.base / f.path).read_bytes()
        for f in stored
    )
    reg.close()


def test_s3_ingest_claims_before_the_upload(s3_blobs, tmp_path):
    """On S3 the key is the digest, so each file is hashed, claimed, then sent: a small
    file from the one read into memory, a multipart one verified again on the way."""
    from weightwatch.registry.blob_backends import open_blobs
    from weightwatch.registry.s3blobs import PART

    blobs = open_blobs(s3_blobs, tmp_path)
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(PART + 17))
    seen: list[tuple[str, bool]] = []
    out = blobs.ingest([small, big], lambda d: seen.append((d, blobs.exists(d))))
    assert out == [
        (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size) for p in (small, big)
    ]
    assert seen == [(out[0][0], False), (out[1][0], False)]
    assert b"".join(blobs.chunks(out[1][0])) == big.read_bytes()
    other = tmp_path / "other"
    other.write_bytes(b"refused")

    def refuse(digest: str) -> None:
        raise RegistryError("the collector has it")

    with pytest.raises(RegistryError):  # a refused claim: nothing sent
        blobs.ingest([other], refuse)
    assert not blobs.exists(hashlib.sha256(b"refused").hexdigest())
