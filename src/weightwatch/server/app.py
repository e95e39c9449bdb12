"""The FastAPI application over one registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from weightwatch import __version__
from weightwatch.errors import AccessDenied, RegistryError, UsageError, WeightwatchError
from weightwatch.registry import Registry
from weightwatch.server import api, hub, ui, uploads, watermark_api

GiB = 1 << 30


def _status(exc: WeightwatchError) -> int:
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, RegistryError):
        return 409
    return 422


def create_app(
    root: str | Path | None = None,
    db_url: str | None = None,
    *,
    watermark_master: str | Path | None = None,
    max_upload_bytes: int = 200 * GiB,
    max_file_bytes: int = 100 * GiB,
) -> FastAPI:
    """An app serving the registry at ``root`` (``--registry`` / ``WEIGHTWATCH_REGISTRY``);
    ``watermark_master`` enables the (authenticated, rate-limited) detection endpoint;
    uploads larger than the limits are refused with 413 and leave nothing behind."""
    registry = Registry.open(Path(root) if root else None, db_url)
    app = FastAPI(
        title="weightwatch registry",
        version=__version__,
        description="Registry, lineage, scanning and tiered access for open-weight models.",
    )

    @app.exception_handler(WeightwatchError)
    def _weightwatch_error(request: Request, exc: WeightwatchError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=_status(exc))

    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.include_router(api.router(registry))
    app.include_router(
        uploads.router(registry, max_upload_bytes=max_upload_bytes, max_file_bytes=max_file_bytes)
    )
    master = Path(watermark_master) if watermark_master else None
    app.include_router(ui.router(registry, watermark_master=master))
    app.include_router(watermark_api.router(registry, master))
    app.include_router(hub.router(registry.store))
    app.state.registry = registry
    return app
