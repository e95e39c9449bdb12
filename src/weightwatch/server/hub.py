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
from fastapi.responses import JSONResponse, Response

from weightwatch.errors import AccessDenied, RegistryError
from weightwatch.registry import Registry
from weightwatch.registry.access import Principal, log_download, model_access
from weightwatch.registry.recipients import Served, served_files
from weightwatch.registry.states import Status
from weightwatch.server.auth import principal
from weightwatch.server.blob_response import DownloadPolicy, send

ERRORS = {
    "GatedRepo": (403, "Access to this model is gated: request access and wait for approval."),
    "RepoNotFound": (404, "Repository not found."),
    "RevisionNotFound": (404, "Revision not found."),
    "EntryNotFound": (404, "Entry not found."),
    "Disabled": (403, "Access to this resource is disabled."),
}


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


def _caller(registry: Registry, request: Request) -> Principal | None:
    return principal(registry.store, request)  # a token, or the browser's session


def _version(registry: Registry, ns: str, name: str, revision: str) -> tuple[Any, str | None]:
    """The complete version a revision names (``main``, a commit id, or ``vN``), or the
    Hub's error code."""
    if not registry.versions_of(ns, name):
        return None, "RepoNotFound"
    try:
        return registry.resolve(ns, name, revision), None
    except RegistryError:
        return None, "RevisionNotFound"


def _files_for(registry: Registry, who: Principal | None, v: Any) -> list[Served]:
    """The files as this caller would download them: a recipient's marked copy where the
    version is served as recipient copies (``registry.recipients``), else the originals."""
    files = registry.files(v.id)
    if registry.visibility(who, v).refusal is not None:
        return [Served(f.path, f.sha256, f.size, None) for f in files]
    return served_files(registry.store, who, v, files)


def _listable(
    registry: Registry, ns: str, name: str, revision: str, request: Request
) -> tuple[Any, Principal | None, Response | None]:
    """The version a metadata request names, or the refusal to send.

    Gated versions are listed (the Hub shows a gated repo's files), quarantined and
    disabled ones are not; an unknown token looks like an unknown repository.
    """
    try:
        who = _caller(registry, request)
    except AccessDenied:
        return None, None, _error("RepoNotFound")
    v, err = _version(registry, ns, name, revision)
    if err:
        return None, who, _error(err)
    seen = registry.visibility(who, v)
    if not seen.listed:
        return None, who, _error(str(seen.refusal))
    return v, who, None


def router(registry: Registry, policy: DownloadPolicy) -> APIRouter:
    api = APIRouter()
    store = registry.store

    def info(ns: str, name: str, revision: str, request: Request) -> Response:
        v, who, refused = _listable(registry, ns, name, revision, request)
        if refused is not None:
            return refused
        files = _files_for(registry, who, v)
        return JSONResponse(
            {
                "_id": f"{ns}/{name}",
                "id": f"{ns}/{name}",
                "modelId": f"{ns}/{name}",
                "sha": v.commit,
                "lastModified": _hub_time(v.completed_at),
                "private": False,
                "disabled": False,
                "gated": False
                if v.status == Status.PUBLISHED
                else model_access(store, v.model_id).gate_mode,
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
        v, who, refused = _listable(registry, ns, name, revision, request)
        if refused is not None:
            return refused
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        files = _files_for(registry, who, v)
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
            who = _caller(registry, request)
        except AccessDenied:
            return _error("RepoNotFound")
        v, err = _version(registry, ns, name, revision)
        if err:
            return _error(err)
        client = request.client.host if request.client else None
        refusal = registry.visibility(who, v).refusal
        if refusal is not None:
            log_download(store, who, v.id, path, client, "denied")
            return _error(str(refusal))
        found = next((f for f in registry.files(v.id) if f.path == path), None)
        if found is None:
            return _error("EntryNotFound")
        f = served_files(store, who, v, [found])[0]  # a recipient's marked copy, or the original
        if request.method == "GET":
            log_download(store, who, v.id, path, client, "served", copy_key_id=f.key_id)
        headers = {  # every file is served like an LFS file: its SHA-256 is its ETag
            "X-Repo-Commit": v.commit,
            "ETag": f'"{f.sha256}"',
            "X-Linked-Etag": f'"{f.sha256}"',
            "X-Linked-Size": str(f.size),
            "Accept-Ranges": "bytes",
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(f.size)
            return Response(status_code=200, headers=headers)
        return send(  # a redirect to the store, or the bytes (ranges too)
            store.blobs,
            f.sha256,
            f.size,
            filename=f.path,
            headers=headers,
            range_header=request.headers.get("range"),
            policy=policy,
        )

    return api
