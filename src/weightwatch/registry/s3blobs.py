"""Blobs in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW…), via boto3.

Keys are ``PREFIX/sha256/ab/cdef…``. A write is one multipart upload straight to the
blob's final key: parts are read from the source, hashed on the way and sent by a few
threads with at most ``INFLIGHT`` parts in memory, so no second copy of the file is
ever written to local disk. The digest is known before the upload starts (the caller
hashed the file to claim the blob in the database, see ``registry/blobgc.py``); the
upload's own hash must agree or the upload is aborted, so a file that changed under us
never lands under the wrong name. A blob that is already there is not sent again
(idempotent). An upload cut off by a crash is an unfinished multipart upload, invisible
to readers; ``gc_incoming`` aborts those once they are old enough.

boto3 was chosen over obstore: it presigns GET URLs with response headers
(``Content-Disposition``), exposes multipart uploads part by part (we hash as we send)
and lists/aborts unfinished uploads, and it is the client most S3-compatible servers
test against; its managed download fetches large blobs in parallel ranges.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from weightwatch.errors import ArtifactError, ServiceError, UsageError
from weightwatch.registry.blobs import Claim, build_tree, check_digest, hash_file

PART = 16 * 1024 * 1024  # S3 parts are 5 MiB .. 5 GiB, at most 10,000 of them
MAX_PARTS = 9_000
INFLIGHT = 4
PUBLIC_ENV = "WEIGHTWATCH_S3_PUBLIC_URL"  # the endpoint clients reach (presigned URLs)


def _client(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=32,
        ),
    )


class S3Blobs:
    """Content-addressed blobs in ``bucket`` under ``prefix``."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = _client(endpoint or os.environ.get("AWS_ENDPOINT_URL"))
        public = os.environ.get(PUBLIC_ENV)
        self.signer = _client(public) if public else self.client

    @classmethod
    def from_url(cls, url: str) -> S3Blobs:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(f"blob store {url!r}: name a bucket, s3://BUCKET[/PREFIX]")
        return cls(bucket, prefix)

    def key(self, digest: str) -> str:
        check_digest(digest)
        return f"{self.prefix}sha256/{digest[:2]}/{digest[2:]}"

    def _err(self, what: str, exc: Exception) -> ServiceError:
        return ServiceError(f"{self.url}: {what} failed ({exc})")

    # -- reads ----------------------------------------------------------------------
    def size(self, digest: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._err("HEAD", exc) from exc
        return int(head["ContentLength"])

    def exists(self, digest: str) -> bool:
        return self.size(digest) is not None

    def read(self, digest: str, limit: int) -> bytes:
        return b"".join(self.chunks(digest, 0, max(limit, 1) - 1))[:limit]

    def chunks(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        rng = f"bytes={start}-{'' if end is None else end}"
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(digest), Range=rng)
        except Exception as exc:
            raise self._err("GET", exc) from exc
        body = obj["Body"]
        try:
            yield from body.iter_chunks(1024 * 1024)
        finally:
            body.close()

    def local_path(self, digest: str) -> Path | None:
        return None

    def presign(self, digest: str, *, filename: str, expires: int) -> str | None:
        name = quote(filename.rsplit("/", 1)[-1], safe="")
        url: str = self.signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(digest),
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{name}",
                "ResponseContentType": "application/octet-stream",
            },
            ExpiresIn=expires,
        )
        return url

    def link_tree(self, entries: list[tuple[str, str]], dest: Path) -> Path:
        """Fetch the blobs into ``dest`` (this host's scratch space), replaced atomically."""

        def place(digest: str, target: Path) -> None:
            try:
                self.client.download_file(self.bucket, self.key(digest), str(target))
            except Exception as exc:
                raise self._err(f"fetching {digest} to {target}", exc) from exc

        return build_tree(entries, dest, place)

    def listing(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}sha256/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                parts = str(obj["Key"]).rsplit("/", 2)
                digest = parts[-2] + parts[-1] if len(parts) == 3 else ""
                if len(digest) == 64:
                    yield digest, obj["LastModified"].timestamp()

    # -- writes ---------------------------------------------------------------------
    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    def ingest(self, sources: Sequence[Path], claim: Claim) -> list[tuple[str, int]]:
        """Per file: its digest, ``claim``, then the upload. A small file (one part) is
        read once into memory and sent from there; a larger one is hashed first (the key
        is its digest, and the claim must precede the upload) and then sent part by part,
        hashed again on the way: a second read that the page cache serves while the file
        fits in memory."""
        out: list[tuple[str, int]] = []
        for source in sources:
            try:
                size = source.stat().st_size
                data = source.read_bytes() if size <= PART else None
            except OSError as exc:
                raise ArtifactError(source, f"cannot read: {exc.strerror or exc}") from exc
            if data is None:
                digest, size = hash_file(source)
                claim(digest)
                out.append(self.put(source, digest=digest))
                continue
            digest = hashlib.sha256(data).hexdigest()
            claim(digest)
            if self.size(digest) != len(data):
                self.client.put_object(Bucket=self.bucket, Key=self.key(digest), Body=data)
            out.append((digest, len(data)))
        return out

    def put(self, source: Path, *, digest: str | None = None) -> tuple[str, int]:
        if digest is None:
            digest, size = hash_file(source)
        else:
            size = source.stat().st_size
        if self.size(digest) == size:
            return digest, size
        key = self.key(digest)
        try:
            if size <= PART:
                data = source.read_bytes()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ArtifactError(source, "changed while it was being stored")
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
            else:
                self._multipart(source, key, digest, size)
        except OSError as exc:
            raise ArtifactError(source, f"cannot store: {exc.strerror or exc}") from exc
        return digest, size

    def _multipart(self, source: Path, key: str, digest: str, size: int) -> None:
        part = max(PART, -(-size // MAX_PARTS))
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="application/octet-stream"
        )["UploadId"]
        h = hashlib.sha256()
        futures: list[Future[Any]] = []
        try:
            with (
                ThreadPoolExecutor(INFLIGHT) as pool,
                open(source, "rb", buffering=0) as src,
            ):
                number = 0
                while data := src.read(part):
                    h.update(data)
                    number += 1
                    while sum(not f.done() for f in futures) >= INFLIGHT:
                        time.sleep(0.002)  # bounded memory: INFLIGHT parts at most
                    futures.append(
                        pool.submit(
                            self.client.upload_part,
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload,
                            PartNumber=number,
                            Body=data,
                        )
                    )
                etags = [f.result()["ETag"] for f in futures]
            if h.hexdigest() != digest:
                raise ArtifactError(source, "changed while it was being stored")
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload,
                MultipartUpload={
                    "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
                },
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise

    def gc_incoming(self, *, older_than: float = 0.0) -> int:
        """Abort unfinished multipart uploads under our prefix started ``older_than``
        seconds ago or earlier (a live writer's upload is younger than the grace period)."""
        n = 0
        cutoff = time.time() - older_than
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}sha256/"
        )
        for page in pages:
            for up in page.get("Uploads", []):
                if up["Initiated"].timestamp() <= cutoff:
                    with contextlib.suppress(Exception):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                        )
                        n += 1
        return n
