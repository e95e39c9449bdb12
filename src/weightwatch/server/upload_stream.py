"""Reading an upload's request body and checking its paths.

A request body is handed to a worker thread (which hashes and writes it) one block at a
time, pulled from the event loop, never held whole in memory; a refused body is drained
a little so the client reads the refusal. Paths inside an upload are safe relative POSIX
paths, and no path is both a file and a folder of the same upload.
"""

from __future__ import annotations

import asyncio
import bz2
import contextlib
import gzip
import lzma
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

MAX_PATH = 1000  # the files table's path column
BLOCK = 1 << 20  # bytes handed from the event loop to the worker thread at a time
PREFETCH = 2  # blocks read ahead of the worker, per request
DRAIN_BYTES = 16 << 20  # read (and drop) this much of a refused body so clients see the 4xx


#: bidirectional controls (an RLO can make ``model.fdp.exe`` read ``model.exe.pdf``)
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_path(raw: str, *, what: str = "path") -> str:
    """``raw`` in Unicode NFC if it is a safe relative POSIX path inside an upload; else a
    400 naming it. Confusable spellings are refused: bidirectional controls and other
    invisible format characters, compatibility forms (full-width dots and letters), and
    names ending in a dot or a space (Windows drops them)."""
    shown = ascii(raw) if len(raw) <= 120 else ascii(raw[:120]) + "…"

    def bad(why: str) -> HTTPException:
        return HTTPException(400, f"{what} {shown} {why}")

    if not raw:
        raise bad("is empty")
    if len(raw) > MAX_PATH:
        raise bad(f"is longer than {MAX_PATH} characters")
    if "\x00" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise bad("contains a NUL or control character")
    if "\\" in raw:
        raise bad("contains a backslash: use '/' between folders")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise bad("is absolute: send a path relative to the model folder")
    parts = raw.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise bad("has an empty, '.' or '..' component (no traversal outside the folder)")
    if any(len(p.encode()) > 255 for p in parts):
        raise bad("has a name longer than 255 bytes")
    if any(c in BIDI or unicodedata.category(c) == "Cf" for c in raw):
        raise bad("contains a bidirectional control or an invisible format character")
    nfc = unicodedata.normalize("NFC", raw)
    if unicodedata.normalize("NFKC", nfc) != nfc:
        raise bad("uses compatibility characters (full-width or styled forms): spell it plainly")
    if any(p[-1] in ". " or p[0] == " " for p in parts):
        raise bad("has a name that begins with a space or ends with a dot or a space")
    return nfc


def clash(files: Path, batch: list[str], staged: dict[str, int]) -> str | None:
    """A path of ``batch`` that would be both a file and a folder of the upload, if any."""
    names = set(batch)
    folders = {"/".join(p.split("/")[:i]) for p in batch for i in range(1, p.count("/") + 1)}
    for rel in batch:
        parts = rel.split("/")
        if rel in folders or (files / rel).is_dir():
            return rel
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in staged or prefix in names:
                return rel
    return None


def case_clash(batch: list[str], staged: dict[str, int]) -> str | None:
    """A path of ``batch`` that differs only in letter case from another path or folder of
    the upload (one of them would overwrite the other on a case-insensitive disk)."""
    seen: dict[str, str] = {}
    for rel in [*staged, *batch]:
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            key = prefix.casefold()
            if seen.setdefault(key, prefix) != prefix:
                return rel
    return None


def staged_sizes(files: Path) -> dict[str, int]:
    """The files already staged under ``files``: relative path -> size.

    The progress view lists the staging while the registration takes its files away: a
    file or folder gone between the listing and its size is no longer staged and is left
    out (it used to raise, and the upload's event stream died with a 500). Links are
    neither followed nor counted: the server stages plain files only (a tar member that is
    a link is refused before it is staged)."""
    out: dict[str, int] = {}
    folders = [files]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in listed:
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    out[Path(entry.path).relative_to(files).as_posix()] = size
            except FileNotFoundError:
                continue
    return out


class Body:
    """A request body for a worker thread: blocks pulled from the event loop, where a task
    reads up to ``PREFETCH`` blocks ahead so the network and the hashing overlap."""

    def __init__(self, request: Request) -> None:
        self._it: AsyncIterator[bytes] = request.stream().__aiter__()
        self._buf = b""
        self._pos = 0
        self._queue: asyncio.Queue[tuple[bytes, bool, Exception | None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.done = False  # the worker has had the last block
        self.read_bytes = 0  # read from the connection so far

    async def _read_block(self) -> tuple[bytes, bool]:
        parts: list[bytes] = []
        n = 0
        last = False
        while n < BLOCK:
            try:
                chunk = await self._it.__anext__()
            except StopAsyncIteration:
                last = True
                break
            if chunk:
                parts.append(chunk)
                n += len(chunk)
        self.read_bytes += n
        return b"".join(parts), last

    async def _fill(self, queue: asyncio.Queue[tuple[bytes, bool, Exception | None]]) -> None:
        try:
            while True:
                block, last = await self._read_block()
                await queue.put((block, last, None))
                if last:
                    return
        except Exception as exc:  # a disconnect: handed to the worker
            await queue.put((b"", True, exc))

    async def _pull(self) -> bytes:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=PREFETCH)
            self._task = asyncio.get_running_loop().create_task(self._fill(self._queue))
        block, last, exc = await self._queue.get()
        self.done = last
        if exc is not None:
            raise exc
        return block

    def close(self) -> None:
        """Stop reading ahead (call from the event loop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def blocks(self) -> Iterator[bytes]:
        if self._pos < len(self._buf):
            yield self._buf[self._pos :]
        self._buf, self._pos = b"", 0
        while not self.done:
            block = anyio.from_thread.run(self._pull)
            if block:
                yield block

    def read(self, n: int = -1) -> bytes:
        """File-like read for ``tarfile`` (its stream mode reads forward, 10 KiB a time)."""
        if n < 0:
            return b"".join(self.blocks())
        while len(self._buf) - self._pos < n and not self.done:
            self._buf = self._buf[self._pos :] + anyio.from_thread.run(self._pull)
            self._pos = 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    async def drain(self) -> None:
        """Read and drop up to ``DRAIN_BYTES`` more, so a client still sending gets the
        refusal instead of a reset connection."""
        with contextlib.suppress(ClientDisconnect, OSError):
            start = self.read_bytes
            while not self.done and self.read_bytes - start < DRAIN_BYTES:
                await self._pull()


class Prefixed:
    """``head`` then the rest of ``raw``, read forward (after sniffing a stream's magic)."""

    def __init__(self, head: bytes, raw: Any) -> None:
        self.head, self.raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out, self.head = self.head + self.raw.read(), b""
                return bytes(out)
            out, self.head = self.head[:n], self.head[n:]
            return bytes(out)
        return bytes(self.raw.read(n))


class TarStream:
    """A tar body, decompressed here (gzip, bzip2, xz) so the compressed stream's own
    checks run to its very end (gzip's CRC32 and ISIZE, bzip2's CRCs, xz's check), and
    remembering recent bytes so that ``check_end`` can insist on the end-of-archive
    marker: a stream cut between two members is truncated, not complete."""

    KEEP = 4 * BLOCK  # more than tarfile reads ahead of the member it is on

    def __init__(self, body: Any) -> None:
        head = body.read(6)
        raw: Any = Prefixed(head, body)
        if head[:2] == b"\x1f\x8b":
            raw = gzip.GzipFile(fileobj=raw, mode="rb")
        elif head[:3] == b"BZh":
            raw = bz2.BZ2File(raw, mode="rb")
        elif head[:6] == b"\xfd7zXZ\x00":
            raw = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115  (no OS resource; read to the end)
        self.raw = raw
        self.pos = 0  # bytes of the tar (decompressed) read so far
        self._keep = bytearray()
        self._keep_from = 0

    def read(self, n: int = -1) -> bytes:
        data = bytes(self.raw.read(n))
        self.pos += len(data)
        self._keep += data
        if len(self._keep) > self.KEEP:
            drop = len(self._keep) - self.KEEP
            del self._keep[:drop]
            self._keep_from += drop
        return data

    def check_end(self, offset: int) -> None:
        """``ValueError`` unless the tar ends at ``offset`` (where tarfile stopped) with
        its end-of-archive marker (zero blocks, at least two) and nothing else follows;
        reads the stream to its end so the decompressor verifies its checksums."""
        if offset < self._keep_from:  # pragma: no cover  (tarfile reads less ahead)
            raise ValueError("cannot check the end of the tar stream")
        tail = bytes(self._keep[offset - self._keep_from :])
        zeros, dirty = len(tail), bool(tail.strip(b"\0"))
        while not dirty:
            chunk = self.read(BLOCK)
            if not chunk:
                break
            zeros += len(chunk)
            dirty = bool(chunk.strip(b"\0"))
            del self._keep[:]
        if dirty:
            raise ValueError("data that is not a tar member follows the last member")
        if zeros < 1024:
            raise ValueError(
                "the stream ends without the tar end-of-archive marker: it was cut short "
                "(nothing was staged)"
            )


def _declared(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


async def receive(request: Request, work: Any, *args: Any) -> dict[str, Any]:
    """Run ``work(..., body, declared)`` in a worker thread fed from this request's body;
    on a refusal, drain a little of the body so the client can read the answer."""
    body = Body(request)
    declared = _declared(request)
    try:
        result: dict[str, Any] = await anyio.to_thread.run_sync(work, *args, body, declared)
    except HTTPException as exc:
        if body.read_bytes or exc.status_code != 413:  # an announced size is refused unread
            await body.drain()
        raise
    finally:
        body.close()
    return result
