"""Reading an upload's request body and checking its paths.

A request body is handed to a worker thread (which hashes and writes it) one block at a
time, pulled from the event loop, never held whole in memory; a refused body is drained
a little so the client reads the refusal. Paths inside an upload are safe relative POSIX
paths, and no path is both a file and a folder of the same upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
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


def clean_path(raw: str, *, what: str = "path") -> str:
    """``raw`` if it is a safe relative POSIX path inside an upload; else a 400 naming it."""
    shown = raw if len(raw) <= 120 else raw[:120] + "…"

    def bad(why: str) -> HTTPException:
        return HTTPException(400, f"{what} {shown!r} {why}")

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
    return raw


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


def staged_sizes(files: Path) -> dict[str, int]:
    """The files already staged under ``files``: relative path -> size."""
    if not files.is_dir():
        return {}
    return {
        p.relative_to(files).as_posix(): p.stat().st_size for p in files.rglob("*") if p.is_file()
    }


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
