"""The S3 blob store against a real S3 server (SeaweedFS started by the tests): content
addressing, multipart uploads hashed on the way, idempotence, refusal of a changed file,
a writer killed mid-upload, and the collector's protocol with claims."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from weightwatch.errors import ArtifactError, RegistryError
from weightwatch.registry import blobgc
from weightwatch.registry.blob_backends import open_blobs
from weightwatch.registry.blobs import hash_file
from weightwatch.registry.s3blobs import PART, S3Blobs

pytestmark = pytest.mark.integration


def _file(path: Path, size: int, seed: int = 0) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * (1 << 15)  # 1 MiB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def test_put_small_and_multipart_read_back_ranges(s3_blobs, tmp_path):
    blobs = open_blobs(s3_blobs, tmp_path)
    assert isinstance(blobs, S3Blobs)
    small = _file(tmp_path / "small", 1000)
    big = _file(tmp_path / "big", 2 * PART + 12345, seed=1)  # three parts
    for src in (small, big):
        digest, size = blobs.put(src)
        assert (digest, size) == hash_file(src)
        assert blobs.exists(digest) and blobs.size(digest) == size
        data = src.read_bytes()
        assert b"".join(blobs.chunks(digest)) == data
        assert b"".join(blobs.chunks(digest, 10, 99)) == data[10:100]
        assert blobs.read(digest, 64) == data[:64]
    listed = {d for d, _ in blobs.listing()}
    assert listed == {hash_file(small)[0], hash_file(big)[0]}
    # nothing half-written is left: no unfinished multipart upload
    assert blobs.gc_incoming(older_than=0) == 0


def test_put_is_idempotent_and_does_not_send_again(s3_blobs, tmp_path, monkeypatch):
    blobs = open_blobs(s3_blobs, tmp_path)
    src = _file(tmp_path / "f", 5000)
    digest, _ = blobs.put(src)
    sent: list[str] = []
    monkeypatch.setattr(blobs.client, "put_object", lambda **kw: sent.append(kw["Key"]))
    assert blobs.put(src) == (digest, 5000)
    assert sent == []  # already stored under its digest: not uploaded again


def test_a_file_that_changed_since_it_was_hashed_is_refused(s3_blobs, tmp_path):
    blobs = open_blobs(s3_blobs, tmp_path)
    src = _file(tmp_path / "f", PART + 10)
    claimed, _ = hash_file(src)
    _file(src, PART + 10, seed=9)  # rewritten after the caller hashed (and claimed) it
    with pytest.raises(ArtifactError, match="changed"):
        blobs.put(src, digest=claimed)
    assert not blobs.exists(claimed)
    assert list(blobs.listing()) == []
    assert blobs.gc_incoming(older_than=0) == 0  # the multipart upload was aborted


KILLER = """
import os, signal, sys
from pathlib import Path
from weightwatch.registry import s3blobs
from weightwatch.registry.blob_backends import open_blobs
s3blobs.INFLIGHT = 1
blobs = open_blobs(sys.argv[1], Path(sys.argv[2]))
real = blobs.client.upload_part
def part(**kw):
    if kw["PartNumber"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # the host dies mid-upload
    return real(**kw)
blobs.client.upload_part = part
blobs.put(Path(sys.argv[3]))
"""


def test_writer_killed_mid_upload_leaves_nothing_visible_and_gc_reclaims(s3_blobs, tmp_path):
    src = _file(tmp_path / "big", 3 * PART, seed=3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", KILLER, s3_blobs, str(tmp_path), str(src)], env=env, timeout=120
    )
    assert r.returncode == -9
    blobs = open_blobs(s3_blobs, tmp_path)
    digest, _ = hash_file(src)
    assert not blobs.exists(digest)  # no partial object under the blob's name
    assert blobs.gc_incoming(older_than=3600) == 0  # a live writer's upload is spared
    assert blobs.gc_incoming(older_than=0) == 1  # the dead one's is aborted
    assert blobs.gc_incoming(older_than=0) == 0


def test_collector_keeps_claimed_and_referenced_blobs_deletes_the_rest(
    s3_blobs, tmp_path, llama_family
):
    from weightwatch.registry import Registry

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    try:
        reg.register(llama_family.base, "acme/base")
        store = reg.store
        kept = {f.sha256 for f in reg.files(reg.resolve("acme", "base", "main").id)}
        orphan, _ = store.blobs.put(_file(tmp_path / "orphan", 100, seed=4))
        claimed, _ = store.blobs.put(_file(tmp_path / "claimed", 100, seed=5))
        time.sleep(2.2)
        blobgc.claim(store, claimed)  # a registration in flight is about to use it
        done = blobgc.collect(store, grace=2.0)
        assert done.deleted == [orphan]
        assert not store.blobs.exists(orphan)
        assert store.blobs.exists(claimed)
        assert all(store.blobs.exists(d) for d in kept)  # a visible version's blobs stay
        # once the claim is older than the grace period, the unused blob goes too
        time.sleep(2.2)
        assert blobgc.collect(store, grace=2.0).deleted == [claimed]
    finally:
        reg.close()


def test_a_claim_the_collector_took_cannot_be_confirmed(s3_blobs, tmp_path, llama_family):
    """The collector's flip to 'deleting' and a registration's confirmation lock the same
    row: whichever commits first wins; the loser fails instead of using a deleted blob."""
    from weightwatch.registry import Registry, schema

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    try:
        store = reg.store
        digest, _ = store.blobs.put(_file(tmp_path / "x", 100, seed=6))
        blobgc.claim(store, digest)
        with store.write.begin() as conn:  # as the collector does, first
            conn.execute(
                schema.blob_claims.update()
                .where(schema.blob_claims.c.digest == digest)
                .values(state=blobgc.DELETING)
            )
        with pytest.raises(RegistryError, match="collected"), store.write.begin() as conn:
            blobgc.confirm(conn, [digest])
    finally:
        reg.close()


def test_presigned_url_expires_and_a_forged_one_is_refused(s3_blobs, tmp_path):
    blobs = open_blobs(s3_blobs, tmp_path)
    src = _file(tmp_path / "w.safetensors", 4096, seed=7)
    digest, _ = blobs.put(src)
    url = blobs.presign(digest, filename="sub/w.safetensors", expires=2)
    assert url is not None
    r = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == src.read_bytes()[:100]
    assert "w.safetensors" in r.headers["content-disposition"]
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403
    plain = url.split("?", 1)[0]
    assert httpx.get(plain).status_code == 403  # the store itself is not public
    time.sleep(3.5)
    assert httpx.get(url).status_code == 403  # expired
