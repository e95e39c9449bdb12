"""Which blob store a URL names: kept apart from ``blobs`` (the interface and the local store)
so that the object-store backend can import the interface without a cycle."""

from __future__ import annotations

from pathlib import Path

from weightwatch.errors import UsageError
from weightwatch.registry.blobs import BlobStore, LocalBlobs


def open_blobs(url: str | None, root: Path) -> BlobStore:
    """The blob store a URL names: ``s3://bucket[/prefix]`` (client settings from the
    standard AWS variables, e.g. ``AWS_ENDPOINT_URL``), ``file:///path``, or ``None`` for
    ``root/blobs``."""
    if not url:
        return LocalBlobs(root / "blobs")
    if url.startswith("s3://"):
        from weightwatch.registry.s3blobs import S3Blobs

        return S3Blobs.from_url(url)
    if url.startswith("file://"):
        return LocalBlobs(Path(url.removeprefix("file://")))
    raise UsageError(f"blob store {url!r}: use s3://BUCKET[/PREFIX] or file:///PATH")
