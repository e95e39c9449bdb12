"""The part of the Hugging Face Hub HTTP API that downloads use, served from a registry.

``huggingface_hub`` (``snapshot_download``, ``hf_hub_download``) and ``transformers``'
``from_pretrained`` work unchanged with ``HF_ENDPOINT`` pointing here: model info with
siblings and the commit (``/api/models/{ns}/{name}[/revision/{rev}]``) and ``resolve``
with ``X-Repo-Commit``, ``ETag``, ``Content-Length``, HEAD and byte ranges. Access
follows the registry's tiers; refusals carry the ``X-Error-Code`` the client maps to the
same exception the Hub would raise (``GatedRepoError``, ``RepositoryNotFoundError``…).
Every file request, served or refused, is written to the download log.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import and_, select

from weightwatch.errors import AccessDenied
from weightwatch.registry import schema
from weightwatch.registry.access import Principal, log_download, may_read, model_access
from weightwatch.registry.store import Store
from weightwatch.server.auth import principal

ERRORS = {
    "GatedRepo": (403, "Access to this model is gated: request access and wait for approval."),
    "RepoNotFound": (404, "Repository not found."),
    "RevisionNotFound": (404, "Revision not found."),
    "EntryNotFound": (404, "Entry not found."),
    "Disabled": (403, "Access to this resource is disabled."),
}


def commit_of(manifest_json: str) -> str:
    """A version's 40-hex commit id: the manifest's SHA-256, truncated like a git id."""
    return hashlib.sha256(manifest_json.encode()).hexdigest()[:40]


def _lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file a Hub repository would hold for this blob."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def _hub_time(iso: str | None) -> str | None:
    """The Hub's timestamp form, ``2024-01-01T12:00:00.000000Z`` (UTC)."""
    if not iso:
        return None
    import datetime as dt

    t = dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(code: str) -> Response:
    status, message = ERRORS[code]
    headers = {"X-Error-Message": message}
    if code != "Disabled":
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _principal(store: Store, request: Request) -> Principal | None:
    return principal(store, request)  # a token, or the browser's session


def _version(store: Store, ns: str, name: str, revision: str) -> Any:
    """The complete version a revision names: ``main`` (newest), a commit id, or ``vN``."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.versions, schema.models.c.id.label("mid"))
            .join(schema.models, schema.models.c.id == schema.versions.c.model_id)
            .where(
                and_(
                    schema.models.c.namespace == ns,
                    schema.models.c.name == name,
                    schema.versions.c.state == "complete",
                )
            )
            .order_by(schema.versions.c.number.desc())
        ).all()
    if not rows:
        return None, "RepoNotFound"
    if revision == "main":
        return rows[0], None
    for r in rows:
        if revision in (commit_of(r.manifest), f"v{r.number}", str(r.number)):
            return r, None
    return None, "RevisionNotFound"


def _listable(
    store: Store, ns: str, name: str, revision: str, request: Request
) -> tuple[Any, Response | None]:
    """The version a metadata request names, or the refusal to send.

    Gated versions are listed (the Hub shows a gated repo's files), quarantined and
    disabled ones are not; an unknown token looks like an unknown repository.
    """
    try:
        who = _principal(store, request)
    except AccessDenied:
        return None, _error("RepoNotFound")
    v, err = _version(store, ns, name, revision)
    if err:
        return None, _error(err)
    denied = may_read(store, who, int(v.mid), v.status)
    if denied in ("Disabled", "RepoNotFound"):
        return None, _error(denied)
    return v, None


def _files(store: Store, version_id: int) -> list[Any]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                select(schema.files.c.path, schema.files.c.size, schema.files.c.sha256)
                .where(schema.files.c.version_id == version_id)
                .order_by(schema.files.c.path)
            ).all()
        )


def router(store: Store) -> APIRouter:
    api = APIRouter()

    def info(ns: str, name: str, revision: str, request: Request) -> Response:
        v, refused = _listable(store, ns, name, revision, request)
        if refused is not None:
            return refused
        files = _files(store, int(v.id))
        return JSONResponse(
            {
                "_id": f"{ns}/{name}",
                "id": f"{ns}/{name}",
                "modelId": f"{ns}/{name}",
                "sha": commit_of(v.manifest),
                "lastModified": _hub_time(v.completed_at),
                "private": False,
                "disabled": False,
                "gated": False
                if v.status == "published"
                else model_access(store, int(v.mid)).gate_mode,
                "tags": [],
                "siblings": [
                    {
                        "rfilename": f.path,
                        "size": f.size,
                        "lfs": {
                            "sha256": f.sha256,
                            "size": f.size,
                            "pointerSize": len(_lfs_pointer(f.sha256, f.size)),
                        },
                    }
                    for f in files
                ],
                "weightwatch": {"version": v.number, "status": v.status},
            }
        )

    @api.get("/api/models/{ns}/{name}")
    def model_info(ns: str, name: str, request: Request) -> Response:
        return info(ns, name, "main", request)

    @api.get("/api/models/{ns}/{name}/revision/{revision}")
    def model_info_revision(ns: str, name: str, revision: str, request: Request) -> Response:
        return info(ns, name, revision, request)

    @api.get("/api/models/{ns}/{name}/tree/{revision}")
    @api.get("/api/models/{ns}/{name}/tree/{revision}/{path:path}")
    def tree(ns: str, name: str, revision: str, request: Request, path: str = "") -> Response:
        """``list_repo_tree``: files (and their folders) under ``path``, one page."""
        v, refused = _listable(store, ns, name, revision, request)
        if refused is not None:
            return refused
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        files = _files(store, int(v.id))
        entries: list[dict[str, Any]] = []
        folders: set[str] = set()
        for f in files:
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            parts = rest.split("/")
            for i in range(1, len(parts)):
                folder = prefix + "/".join(parts[:i])
                if folder not in folders and (recursive or i == 1):
                    folders.add(folder)
                    entries.append(
                        {"type": "directory", "oid": "0" * 40, "size": 0, "path": folder}
                    )
            if len(parts) > 1 and not recursive:
                continue
            pointer = _lfs_pointer(f.sha256, f.size)
            entries.append(
                {
                    "type": "file",
                    "oid": hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest(),  # noqa: S324  (git's object id)
                    "size": f.size,
                    "path": f.path,
                    "lfs": {"oid": f.sha256, "size": f.size, "pointerSize": len(pointer)},
                }
            )
        return JSONResponse(entries)

    @api.head("/{ns}/{name}/resolve/{revision}/{path:path}", operation_id="hub_resolve_head")
    @api.get("/{ns}/{name}/resolve/{revision}/{path:path}", operation_id="hub_resolve")
    def resolve(ns: str, name: str, revision: str, path: str, request: Request) -> Response:
        try:
            who = _principal(store, request)
        except AccessDenied:
            return _error("RepoNotFound")
        v, err = _version(store, ns, name, revision)
        if err:
            return _error(err)
        client = request.client.host if request.client else None
        denied = may_read(store, who, int(v.mid), v.status)
        if denied:
            log_download(store, who, int(v.id), path, client, "denied")
            return _error(denied)
        with store.engine.connect() as conn:
            f = conn.execute(
                select(schema.files).where(
                    and_(schema.files.c.version_id == v.id, schema.files.c.path == path)
                )
            ).first()
        if f is None:
            return _error("EntryNotFound")
        if request.method == "GET":
            log_download(store, who, int(v.id), path, client, "served")
        headers = {  # every file is served like an LFS file: its SHA-256 is its ETag
            "X-Repo-Commit": commit_of(v.manifest),
            "ETag": f'"{f.sha256}"',
            "X-Linked-Etag": f'"{f.sha256}"',
            "X-Linked-Size": str(f.size),
            "Accept-Ranges": "bytes",
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(f.size)
            return Response(status_code=200, headers=headers)
        return FileResponse(
            store.blobs.path(f.sha256),
            headers=headers,
            media_type="application/octet-stream",
        )

    return api
