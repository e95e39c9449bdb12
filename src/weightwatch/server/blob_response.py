"""How a file leaves the server: streamed from the blob store, or a redirect to it.

``DownloadPolicy`` says which. Streaming (the default for a local blob store) sends the
bytes through this process, with single byte ranges; redirecting (the default for an
object store) answers ``302`` with a presigned URL valid for ``expires`` seconds, after
the caller's access was checked and the download logged, like the Hub's CDN redirects.
A presigned URL cannot be revoked: a takedown stops new URLs at once, and the ones
already handed out stop working when they expire, so keep ``expires`` short.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fastapi.responses import FileResponse, Response, StreamingResponse

from weightwatch.errors import UsageError
from weightwatch.registry.blobs import BlobStore

Mode = Literal["stream", "redirect"]
MODE_ENV = "WEIGHTWATCH_DOWNLOADS"
EXPIRES_ENV = "WEIGHTWATCH_REDIRECT_SECONDS"
DEFAULT_EXPIRES = 60
MAX_EXPIRES = 3600
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class DownloadPolicy:
    mode: Mode = "stream"
    expires: int = DEFAULT_EXPIRES

    def __post_init__(self) -> None:
        if self.mode not in ("stream", "redirect"):
            raise UsageError(f"downloads {self.mode!r}: choose stream or redirect")
        if not 1 <= self.expires <= MAX_EXPIRES:
            raise UsageError(f"redirect expiry {self.expires}s: use 1..{MAX_EXPIRES} seconds")

    @classmethod
    def for_store(
        cls, blobs: BlobStore, mode: str | None = None, expires: int | None = None
    ) -> DownloadPolicy:
        """The policy asked for (argument, else environment), else the store's default:
        redirect where the store can presign URLs, stream otherwise."""
        chosen = mode or os.environ.get(MODE_ENV)
        if not chosen:
            chosen = "stream" if blobs.local_path("0" * 64) is not None else "redirect"
        if expires is None:
            raw = os.environ.get(EXPIRES_ENV, str(DEFAULT_EXPIRES))
            if not raw.isdigit():
                raise UsageError(f"{EXPIRES_ENV}={raw!r}: a number of seconds")
            expires = int(raw)
        return cls(chosen, expires)  # type: ignore[arg-type]


def _range(header: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """(start, end) inclusive for one ``bytes=`` range; None: whole file; False: unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # not one range we serve: the whole file, as RFC 9110 allows
    if not m.group(1):
        n = int(m.group(2))
        return (max(size - n, 0), size - 1) if n and size else False
    start = int(m.group(1))
    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or end < start:
        return False
    return start, end


def send(
    blobs: BlobStore,
    digest: str,
    size: int,
    *,
    filename: str,
    headers: Mapping[str, str],
    range_header: str | None,
    policy: DownloadPolicy,
) -> Response:
    """The response for a file whose access was checked and whose download was logged."""
    if policy.mode == "redirect":
        url = blobs.presign(digest, filename=filename, expires=policy.expires)
        if url is not None:
            return Response(
                status_code=302,
                headers={**headers, "Location": url, "Cache-Control": "no-store"},
            )
    local = blobs.local_path(digest)
    if local is not None:
        return FileResponse(local, headers=dict(headers), media_type="application/octet-stream")
    r = _range(range_header, size)
    if r is False:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if r is None:
        return StreamingResponse(
            blobs.chunks(digest),
            headers={**headers, "Content-Length": str(size)},
            media_type="application/octet-stream",
        )
    start, end = r
    return StreamingResponse(
        blobs.chunks(digest, start, end),
        status_code=206,
        headers={
            **headers,
            "Content-Length": str(end - start + 1),
            "Content-Range": f"bytes {start}-{end}/{size}",
        },
        media_type="application/octet-stream",
    )
