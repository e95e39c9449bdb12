"""Uploads streamed into the registry: a model folder as several files or one tar, hashed
on the fly into a staging area, then registered by the pipeline in a background thread.

An upload's staging folder is ``<registry root>/uploads/<id>/``: ``files/`` is the folder
the pipeline ingests, ``tmp/`` holds what is still arriving (a file, or a tar being
extracted), moved into ``files/`` only once complete and within the limits, so a refused
or interrupted request leaves nothing. Bodies are never held whole in memory: a worker
thread pulls them from the event loop one block at a time (``upload_stream``).

A server killed mid-upload leaves at most a staging folder: the next start marks uploads
still ``receiving`` as ``aborted`` and deletes their staging, and resumes registrations
the pipeline had begun (nothing is visible until its last step commits).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import lzma
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from weightwatch.errors import UsageError
from weightwatch.registry import Registry, upload_records
from weightwatch.registry.access import Principal
from weightwatch.registry.accounts import namespace_owner, record
from weightwatch.registry.registry import ACCESS
from weightwatch.registry.states import Role
from weightwatch.registry.store import parse_name
from weightwatch.server.auth import client_of, requires
from weightwatch.server.upload_stream import (
    BLOCK,
    Body,
    TarStream,
    case_clash,
    clash,
    clean_path,
    receive,
    staged_sizes,
)

log = logging.getLogger(__name__)

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_FILES = 10_000
PROGRESS_BYTES = 64 << 20  # ``received`` is written at most every 64 MiB or 1 s
PROGRESS_SECONDS = 1.0
TAR_FRAMING = 16 << 20  # a tar's headers and padding, allowed on top of the byte limit
TERMINAL = ("done", "failed", "aborted")
MAX_OPEN_UPLOADS = 4  # uploads one account may have receiving files at once
HEARTBEAT_SECONDS = 15.0


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError  # pragma: no cover


@dataclass
class _Live:
    """What this process knows of an upload being received (guarded by ``lock``)."""

    sizes: dict[str, int]  # staged files: path -> size
    staged: int = 0  # sum of sizes
    inflight: int = 0  # bytes of requests still arriving
    active: int = 0  # requests still arriving
    closed: bool = False  # finished or aborted: refuse more bytes
    reported_at: float = 0.0
    reported: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return self.staged + self.inflight


@dataclass
class _Request:
    """One PUT's share of an upload's in-flight bytes, given back when it ends."""

    live: _Live
    inflight: int = 0

    def add(self, n: int) -> int:
        with self.live.lock:
            if self.live.closed:
                raise HTTPException(409, "the upload was aborted")
            self.live.inflight += n
            self.inflight += n
            return self.live.total

    def release(self, n: int | None = None) -> None:
        n = self.inflight if n is None else n
        with self.live.lock:
            self.live.inflight -= n
            self.inflight -= n


class Uploads:
    """The upload service behind the routes: staging, limits, progress, registration."""

    def __init__(
        self,
        registry: Registry,
        *,
        max_upload_bytes: int,
        max_file_bytes: int,
        max_open_uploads: int = MAX_OPEN_UPLOADS,
    ) -> None:
        self.registry = registry
        self.max_open = max_open_uploads
        self.store = registry.store
        self.max_upload = max_upload_bytes
        self.max_file = max_file_bytes
        self.root = registry.store.root / "uploads"
        self._live: dict[str, _Live] = {}
        self._live_lock = threading.Lock()
        self._register_lock = threading.Lock()  # registrations one at a time

    # -- rows and permissions ------------------------------------------------------------
    def row(self, upload_id: str) -> Any:
        if UPLOAD_ID.match(upload_id):
            r = upload_records.get(self.store, upload_id)
            if r is not None:
                return r
        raise HTTPException(404, f"no upload {upload_id!r}")

    def allowed(self, upload_id: str, who: Principal, *, write: bool) -> Any:
        """The row if ``who`` may see the upload (uploader, admins, reviewers) or change it
        (uploader, admins); 403 otherwise."""
        r = self.row(upload_id)
        if who.user == r.user or who.role == "admin" or (not write and who.role == "reviewer"):
            return r
        raise HTTPException(403, "only the uploader and admins (reviewers: to read) may do this")

    def _set(self, upload_id: str, *, when: str | None = None, **values: Any) -> bool:
        """Update the row (only while in state ``when``, if given); whether it changed."""
        return upload_records.update_row(self.store, upload_id, when=when, **values)

    def dir(self, upload_id: str) -> Path:
        return self.root / upload_id

    def live(self, upload_id: str) -> _Live:
        with self._live_lock:
            lv = self._live.get(upload_id)
            if lv is None:
                sizes = staged_sizes(self.dir(upload_id) / "files")
                lv = self._live[upload_id] = _Live(sizes, staged=sum(sizes.values()))
            return lv

    # -- creating ------------------------------------------------------------------------
    def create(self, who: Principal, model: str, access: str, client: str | None) -> str:
        ns, _ = parse_name(model)
        if access not in ACCESS:
            raise HTTPException(400, f"access must be one of {', '.join(ACCESS)}, not {access!r}")
        if who.role != Role.ADMIN and not (
            who.role == Role.PUBLISHER and who.owns(ns, namespace_owner(self.store, ns))
        ):
            raise HTTPException(
                403, f"only admins and publishers who own the namespace {ns!r} may upload to it"
            )
        upload_id = secrets.token_hex(16)
        try:  # a quota per publisher: bytes staged <= max_open_uploads * max_upload_bytes
            upload_records.create(
                self.store,
                upload_id,
                user=who.user,
                model=model,
                access=access,
                max_open=self.max_open,
            )
        except UsageError as exc:
            raise HTTPException(429, exc.message, {"Retry-After": "60"}) from None
        record(self.store, who.user, "upload.start", model, client=client, upload=upload_id)
        return upload_id

    # -- receiving -----------------------------------------------------------------------
    def _open(self, upload_id: str, who: Principal) -> _Request:
        """Admit one more request into a receiving upload."""
        r = self.allowed(upload_id, who, write=True)
        if r.state != "receiving":
            raise HTTPException(409, f"upload {upload_id} is {r.state}: it takes no more files")
        lv = self.live(upload_id)
        with lv.lock:
            if lv.closed:
                raise HTTPException(409, f"upload {upload_id} is finished or aborted")
            lv.active += 1
        (self.dir(upload_id) / "tmp").mkdir(parents=True, exist_ok=True)
        return _Request(lv)

    def _close(self, upload_id: str, req: _Request) -> None:
        """End a request: give back its in-flight bytes, report, tidy an empty staging."""
        req.release()
        lv = req.live
        with lv.lock:
            lv.active -= 1
            empty = not lv.sizes and lv.active == 0
        self._progress(upload_id, lv, force=True)
        if empty:
            shutil.rmtree(self.dir(upload_id), ignore_errors=True)

    def _progress(self, upload_id: str, lv: _Live, *, force: bool = False) -> None:
        t = time.monotonic()
        with lv.lock:
            total = lv.total
            due = force or (
                t - lv.reported_at >= PROGRESS_SECONDS or total - lv.reported >= PROGRESS_BYTES
            )
            if due:
                lv.reported_at, lv.reported = t, total
        if due:
            self._set(upload_id, when="receiving", received=total)

    def _too_big(self, what: str | None) -> HTTPException:
        if what is None:
            return HTTPException(
                413,
                f"the upload is larger than the limit of {_human(self.max_upload)} in total "
                "(max_upload_bytes)",
            )
        return HTTPException(
            413,
            f"file {what!r} is larger than the limit of {_human(self.max_file)} per file "
            "(max_file_bytes)",
        )

    def _copy(
        self, upload_id: str, req: _Request, rel: str, chunks: Iterator[bytes], out: IO[bytes]
    ) -> tuple[int, str]:
        """Stream ``chunks`` into ``out`` within the limits; (size, sha256)."""
        h = hashlib.sha256()
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_file:
                raise self._too_big(rel)
            if req.add(len(chunk)) > self.max_upload:
                raise self._too_big(None)
            h.update(chunk)
            out.write(chunk)
            self._progress(upload_id, req.live)
        out.flush()
        os.fsync(out.fileno())
        return size, h.hexdigest()

    def _commit(self, upload_id: str, req: _Request, entries: list[tuple[str, Path, int]]) -> None:
        """Move received files into ``files/``, refusing clashes and the file-count limit."""
        files = self.dir(upload_id) / "files"
        files.mkdir(parents=True, exist_ok=True)
        lv = req.live
        with lv.lock:
            batch = [rel for rel, _, _ in entries]
            if len(set(lv.sizes) | set(batch)) > MAX_FILES:
                raise HTTPException(400, f"an upload holds at most {MAX_FILES} files")
            bad = clash(files, batch, lv.sizes)
            if bad is not None:
                raise HTTPException(400, f"path {bad!r} would be both a file and a folder")
            bad = case_clash(batch, lv.sizes)
            if bad is not None:
                raise HTTPException(
                    400, f"path {bad!r} differs only in letter case from another path of the upload"
                )
            for rel, tmp, size in entries:
                target = files / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(target)
                lv.staged += size - lv.sizes.get(rel, 0)
                lv.sizes[rel] = size
                lv.inflight -= size
                req.inflight -= size

    def put_file(
        self, upload_id: str, rel: str, who: Principal, body: Body, declared: int | None
    ) -> dict[str, Any]:
        rel = clean_path(rel)
        req = self._open(upload_id, who)
        try:
            lv = req.live
            if declared is not None and declared > self.max_file:
                raise self._too_big(rel)
            if (
                declared is not None
                and declared + lv.total - lv.sizes.get(rel, 0) > self.max_upload
            ):
                raise self._too_big(None)
            if rel not in lv.sizes and len(lv.sizes) >= MAX_FILES:
                raise HTTPException(400, f"an upload holds at most {MAX_FILES} files: {rel!r}")
            fd, tmp = tempfile.mkstemp(dir=self.dir(upload_id) / "tmp", prefix="file-")
            try:
                with os.fdopen(fd, "wb") as out:
                    size, digest = self._copy(upload_id, req, rel, body.blocks(), out)
                self._commit(upload_id, req, [(rel, Path(tmp), size)])
            finally:
                with contextlib.suppress(FileNotFoundError):
                    Path(tmp).unlink()
        finally:
            self._close(upload_id, req)
        return {"path": rel, "size": size, "sha256": digest}

    def put_tar(
        self, upload_id: str, who: Principal, body: Body, declared: int | None
    ) -> dict[str, Any]:
        req = self._open(upload_id, who)
        work = Path(tempfile.mkdtemp(dir=self.dir(upload_id) / "tmp", prefix="tar-"))
        entries: dict[str, tuple[Path, int, str]] = {}
        try:
            if declared is not None and declared > self.max_upload - req.live.total + TAR_FRAMING:
                raise self._too_big(None)
            try:
                self._extract(upload_id, req, body, work, entries)
            except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError) as exc:
                raise HTTPException(400, f"not a readable tar (or .tar.gz) stream: {exc}") from None
            self._commit(upload_id, req, [(rel, p, s) for rel, (p, s, _) in entries.items()])
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self._close(upload_id, req)
        return {
            "files": [
                {"path": rel, "size": s, "sha256": d} for rel, (_, s, d) in sorted(entries.items())
            ],
            "received": req.live.total,
        }

    def _extract(
        self,
        upload_id: str,
        req: _Request,
        body: Body,
        work: Path,
        entries: dict[str, tuple[Path, int, str]],
    ) -> None:
        """Extract a tar stream's regular files into ``work`` (nothing else is accepted)."""
        stream = TarStream(body)
        with tarfile.open(fileobj=stream, mode="r|", bufsize=BLOCK) as tf:  # type: ignore[call-overload]
            raw_names: dict[str, str] = {}
            for m in tf:
                name = m.name
                while name.startswith("./"):
                    name = name[2:]
                if name in ("", "."):
                    continue
                rel = clean_path(name.rstrip("/") if m.isdir() else name, what="tar member")
                if m.isdir():
                    continue
                if raw_names.setdefault(rel, name) != name:  # NFC and NFD side by side
                    raise HTTPException(
                        400,
                        f"tar members {raw_names[rel]!a} and {name!a} are "
                        "the same name in different Unicode forms",
                    )

                if not m.isfile():
                    kind = "a link" if m.issym() or m.islnk() else "a device, fifo or special file"
                    raise HTTPException(
                        400, f"tar member {rel!r} is {kind}: upload regular files only"
                    )
                if m.size > self.max_file:
                    raise self._too_big(rel)
                if rel not in entries and len(req.live.sizes) + len(entries) >= MAX_FILES:
                    raise HTTPException(400, f"an upload holds at most {MAX_FILES} files: {rel!r}")
                src = tf.extractfile(m)
                if src is None:  # pragma: no cover  (regular members always have data)
                    continue
                chunks = iter(partial(src.read, BLOCK), b"")
                tmp = work / f"{len(entries):05d}-{secrets.token_hex(4)}"
                with open(tmp, "wb") as out:
                    size, digest = self._copy(upload_id, req, rel, chunks, out)
                old = entries.pop(rel, None)
                if old is not None:  # a later member of the same name wins
                    req.release(old[1])
                    old[0].unlink()
                entries[rel] = (tmp, size, digest)
            stream.check_end(tf.offset)

    # -- finishing, aborting -------------------------------------------------------------
    def finish(self, upload_id: str, who: Principal, client: str | None) -> dict[str, Any]:
        """Submit the staged folder to the registry; the job runs in a background thread."""
        r = self.allowed(upload_id, who, write=True)
        lv = self.live(upload_id)
        with lv.lock:
            if lv.active:
                raise HTTPException(409, "files are still arriving: finish when they are done")
            if r.state == "receiving" and not lv.sizes:
                raise HTTPException(400, "nothing was uploaded: send the model's files first")
            if r.state == "receiving":
                lv.closed = True
        if not self._set(upload_id, when="receiving", state="registering"):
            raise HTTPException(409, f"upload {upload_id} is {self.row(upload_id).state}")
        try:
            job_id = self.registry.submit(self.dir(upload_id) / "files", r.model, access=r.access)
        except Exception as exc:
            self._set(upload_id, state="failed", error=f"cannot submit: {exc}")
            shutil.rmtree(self.dir(upload_id), ignore_errors=True)
            raise
        self._set(upload_id, job_id=job_id, received=lv.total)
        record(self.store, who.user, "upload.finish", r.model, client=client, upload=upload_id)
        threading.Thread(
            target=self._register, args=(upload_id, job_id), name=f"upload-{upload_id}", daemon=True
        ).start()
        return {"id": upload_id, "state": "registering", "job_id": job_id}

    def _register(self, upload_id: str, job_id: int) -> None:
        with self._register_lock:
            try:
                self.registry.runner.run([job_id])
            except Exception:  # the job stays unfinished; the next start resumes it
                log.exception("registration of upload %s (job %s) stopped", upload_id, job_id)
            self.settle(upload_id)

    def settle(self, upload_id: str) -> None:
        """Once an upload's job has ended: record the outcome and delete its staging."""
        r = self.row(upload_id)
        if r.state != "registering" or r.job_id is None:
            return
        job = upload_records.job_state(self.store, int(r.job_id))
        if job is None or job[0] not in ("done", "failed"):
            return
        ended = "done" if job[0] == "done" else "failed"
        shutil.rmtree(self.dir(upload_id), ignore_errors=True)  # the blobs hold the files now
        if self._set(upload_id, when="registering", state=ended, error=job[1]):
            record(self.store, None, f"upload.{ended}", r.model, upload=upload_id, job=r.job_id)
        with self._live_lock:
            self._live.pop(upload_id, None)

    def abort(self, upload_id: str, who: Principal, client: str | None) -> dict[str, Any]:
        r = self.allowed(upload_id, who, write=True)
        if r.state in ("registering", "done", "failed"):
            raise HTTPException(409, f"upload {upload_id} is {r.state}: too late to abort")
        lv = self.live(upload_id)
        with lv.lock:
            lv.closed = True  # requests still arriving stop at their next block
        if self._set(upload_id, when="receiving", state="aborted", error="aborted by the client"):
            record(self.store, who.user, "upload.abort", r.model, client=client, upload=upload_id)
        shutil.rmtree(self.dir(upload_id), ignore_errors=True)
        return self.view(upload_id)

    # -- reading -------------------------------------------------------------------------
    def view(self, upload_id: str) -> dict[str, Any]:
        r = self.row(upload_id)
        job: dict[str, Any] | None = None
        version = status = None
        files: list[dict[str, Any]] = []
        if r.job_id is not None:
            o = upload_records.outcome(self.store, int(r.job_id), with_files=r.state == "done")
            job = {"step": o.step, "state": o.state, "error": o.error}
            version, status = o.version, o.status
            files = [{"path": f.path, "size": f.size} for f in o.files]
        if r.state in ("receiving", "registering"):
            sizes = staged_sizes(self.dir(upload_id) / "files")
            files = [{"path": p, "size": s} for p, s in sorted(sizes.items())]
        return {
            "id": r.id,
            "model": r.model,
            "access": r.access,
            "user": r.user,
            "state": r.state,
            "received": int(r.received),
            "files": files,
            "job": job,
            "version": version,
            "status": status,
            "error": r.error or (job or {}).get("error"),
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }

    # -- after a crash -------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Abort uploads a dead server was receiving (and delete their staging), delete
        orphaned staging folders; returns the uploads still registering."""
        dead, keep_ids = upload_records.abort_unfinished(
            self.store, "the server stopped before the upload was finished: upload again"
        )
        for upload_id in dead:
            record(self.store, None, "upload.abort", upload_id, reason="server restart")
        keep = set(keep_ids)
        if self.root.is_dir():
            for d in self.root.iterdir():
                if d.name not in keep:
                    shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink()
        return sorted(keep)

    def resume(self, registering: list[str]) -> None:
        """Resume every unfinished job (a background thread calls this at start)."""
        with self._register_lock:
            try:
                self.registry.resume()
            except Exception:
                log.exception("resuming unfinished registrations failed")
            for upload_id in registering:
                self.settle(upload_id)


def router(
    registry: Registry,
    *,
    max_upload_bytes: int,
    max_file_bytes: int,
    max_open_uploads: int = MAX_OPEN_UPLOADS,
) -> APIRouter:
    """The upload API under ``/api/v1/uploads``. Building it recovers from a crash: uploads
    left receiving are aborted and unfinished registrations resume in the background."""
    svc = Uploads(
        registry,
        max_upload_bytes=max_upload_bytes,
        max_file_bytes=max_file_bytes,
        max_open_uploads=max_open_uploads,
    )
    registering = svc.recover()
    threading.Thread(
        target=svc.resume, args=(registering,), name="upload-resume", daemon=True
    ).start()
    api = APIRouter(prefix="/api/v1", tags=["uploads"])
    signed_in = Depends(requires(registry.store))

    @api.post("/uploads", status_code=201)
    def create(request: Request, doc: dict[str, Any], who: Principal = signed_in) -> Any:
        model, access = doc.get("model"), doc.get("access", "public")
        if not isinstance(model, str) or not isinstance(access, str):
            raise HTTPException(400, 'send {"model": "namespace/name", "access": "public"}')
        upload_id = svc.create(who, model, access, client_of(request))
        return svc.view(upload_id)

    @api.put("/uploads/{upload_id}/files/{path:path}")
    async def put_file(
        upload_id: str, path: str, request: Request, who: Principal = signed_in
    ) -> Any:
        return await receive(request, svc.put_file, upload_id, path, who)

    @api.put("/uploads/{upload_id}/tar")
    async def put_tar(upload_id: str, request: Request, who: Principal = signed_in) -> Any:
        return await receive(request, svc.put_tar, upload_id, who)

    @api.post("/uploads/{upload_id}/finish", status_code=202)
    def finish(upload_id: str, request: Request, who: Principal = signed_in) -> Any:
        return svc.finish(upload_id, who, client_of(request))

    @api.get("/uploads/{upload_id}")
    def show(upload_id: str, who: Principal = signed_in) -> Any:
        svc.allowed(upload_id, who, write=False)
        svc.settle(upload_id)
        return svc.view(upload_id)

    @api.delete("/uploads/{upload_id}")
    def abort(upload_id: str, request: Request, who: Principal = signed_in) -> Any:
        return svc.abort(upload_id, who, client_of(request))

    @api.get("/uploads/{upload_id}/events")
    def events(upload_id: str, request: Request, who: Principal = signed_in) -> Response:
        svc.allowed(upload_id, who, write=False)

        async def stream() -> AsyncIterator[str]:
            last, quiet = "", 0.0
            while True:
                doc = await anyio.to_thread.run_sync(svc.view, upload_id)
                text = json.dumps(doc, sort_keys=True)
                if text != last:
                    yield f"data: {text}\n\n"
                    last, quiet = text, 0.0
                elif quiet >= HEARTBEAT_SECONDS:
                    yield ": still here\n\n"
                    quiet = 0.0
                if doc["state"] in TERMINAL or await request.is_disconnected():
                    return
                await anyio.sleep(0.5)
                quiet += 0.5

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return api
