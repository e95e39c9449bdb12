"""The FastAPI application over one registry.

Errors have one shape per kind of caller: ``{"error": "..."}`` (with the exception's
headers, e.g. ``WWW-Authenticate``, ``Retry-After``) for the JSON API under ``/api/`` and
for the Hub-compatible routes, whose own refusals keep their Hub headers and bodies; the
site's HTML error page for everything else (the web UI, unknown paths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request as StarletteRequest

from weightwatch import __version__
from weightwatch.errors import (
    AccessDenied,
    NotFound,
    RegistryError,
    TooManyAttempts,
    UsageError,
    WeightwatchError,
)
from weightwatch.registry import Registry
from weightwatch.registry.signin import DEFAULT_POLICY, SignInPolicy
from weightwatch.server import api, hub, tlog, ui, uploads, watermark_api
from weightwatch.server.auth import principal
from weightwatch.server.blob_response import DownloadPolicy
from weightwatch.server.deliveries import DeliveryLoop
from weightwatch.server.guards import GuardPolicy, Guards

GiB = 1 << 30
RETRY_AFTER = api.RETRY_AFTER  # seconds a throttled sign-in waits
# upload clients written before errors were uniform read "detail"; kept as an alias there


def _status(exc: WeightwatchError) -> int:
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, RegistryError):
        return 409
    return 422


def _explain(errors: Any) -> str:
    """Validation errors as one line: ``where: what; where: what``."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(
    root: str | Path | None = None,
    db_url: str | None = None,
    *,
    watermark_master: str | Path | None = None,
    max_upload_bytes: int = 200 * GiB,
    max_file_bytes: int = 100 * GiB,
    max_open_uploads: int = uploads.MAX_OPEN_UPLOADS,
    signin: SignInPolicy = DEFAULT_POLICY,
    guards: GuardPolicy | None = None,
    blobs: str | None = None,
    downloads: str | None = None,
    redirect_seconds: int | None = None,
    runner: str | None = None,
    tlog_config: tlog.TlogConfig | None = None,
) -> FastAPI:
    """An app serving the registry at ``root`` (``--registry`` / ``WEIGHTWATCH_REGISTRY``);
    ``watermark_master`` enables the (authenticated, rate-limited) detection endpoint;
    uploads larger than the limits are refused with 413 and leave nothing behind; ``signin``
    throttles password guessing (``registry.signin``) and ``guards`` bounds every other
    request body (``server.guards``, which also refuses cross-origin writes and sets the
    security headers); ``tlog_config`` runs a witness and names the witnesses to ask
    (``server.tlog``; the log is always served as tiles under ``/tlog``). ``blobs`` names
    the blob store (``s3://…``; see ``registry.store``); ``downloads`` is ``stream`` or
    ``redirect`` (presigned URLs valid ``redirect_seconds``; ``server.blob_response``);
    ``runner`` runs registrations (``inline``, ``thread`` or ``ray``; env
    ``WEIGHTWATCH_RUNNER``; Ray joins ``RAY_ADDRESS`` when it is set)."""
    registry = Registry.open(
        Path(root) if root else None,
        db_url,
        blobs=blobs,
        runner=runner or os.environ.get("WEIGHTWATCH_RUNNER") or "inline",
    )
    policy = DownloadPolicy.for_store(registry.store.blobs, downloads, redirect_seconds)
    deliveries = DeliveryLoop(registry)
    app = FastAPI(
        title="weightwatch registry",
        version=__version__,
        description="Registry, lineage, scanning and tiered access for open-weight models.",
    )

    app.router.on_startup.append(deliveries.start)  # runs while the app is served
    app.router.on_shutdown.append(deliveries.stop)
    hub_router = hub.router(registry, policy)
    hub_endpoints = {getattr(r, "endpoint", None) for r in hub_router.routes}

    def wants_json(request: Request) -> bool:
        endpoint = request.scope.get("endpoint")
        return request.url.path.startswith("/api/") or endpoint in hub_endpoints

    def answer(
        request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status, headers=headers)
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        page = ui.error_page(registry, request, status, title, message)
        page.headers.update(headers or {})
        return page

    @app.exception_handler(WeightwatchError)
    def _weightwatch_error(request: Request, exc: WeightwatchError) -> Response:
        status = _status(exc)
        retry = None
        if isinstance(exc, TooManyAttempts):
            retry = {"Retry-After": str(exc.retry_after)}
        elif status == 429:
            retry = {"Retry-After": RETRY_AFTER}
        return answer(request, status, exc.message, retry)

    @app.exception_handler(HTTPException)
    def _http_error(request: Request, exc: HTTPException) -> Response:
        return answer(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, 422, _explain(exc.errors()))

    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.include_router(api.router(registry))
    app.include_router(
        uploads.router(
            registry,
            max_upload_bytes=max_upload_bytes,
            max_file_bytes=max_file_bytes,
            max_open_uploads=max_open_uploads,
        )
    )
    master = Path(watermark_master) if watermark_master else None
    detection = watermark_api.Detection(registry, master, per_minute=30, burst=10)
    app.include_router(ui.router(registry, watermark_master=master, detection=detection))
    app.include_router(watermark_api.router(registry, detection))
    app.include_router(hub_router)
    app.include_router(tlog.router(registry, tlog_config))
    cosigning = tlog.CosignLoop(registry, tlog_config or tlog.TlogConfig())
    app.router.on_startup.append(cosigning.start)
    app.router.on_shutdown.append(cosigning.stop)
    app.add_middleware(  # authentication before parsing, body limits, cross-origin, headers
        Guards, policy=guards, authenticated=_credentials_check(registry)
    )
    app.state.registry = registry
    app.state.signin = signin
    return app


def _credentials_check(registry: Registry) -> Any:
    """Whether a request carries valid credentials (a live token or session), checked in a
    worker thread from the headers alone, for ``Guards`` to run before any body is read."""

    def check(scope: Any) -> bool:
        try:
            return principal(registry.store, StarletteRequest(scope)) is not None
        except WeightwatchError:
            return False

    async def authenticated(scope: Any) -> bool:
        return bool(await run_in_threadpool(check, scope))

    return authenticated
