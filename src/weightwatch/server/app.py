"""The FastAPI application over one registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from weightwatch import __version__
from weightwatch.registry import Registry
from weightwatch.server import hub, ui, watermark_api


def create_app(
    root: str | Path | None = None,
    db_url: str | None = None,
    *,
    watermark_master: str | Path | None = None,
) -> FastAPI:
    """An app serving the registry at ``root`` (``--registry`` / ``WEIGHTWATCH_REGISTRY``);
    ``watermark_master`` enables the (authenticated, rate-limited) detection endpoint."""
    registry = Registry.open(Path(root) if root else None, db_url)
    app = FastAPI(title="weightwatch registry", version=__version__)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.include_router(ui.router(registry))
    app.include_router(
        watermark_api.router(registry, Path(watermark_master) if watermark_master else None)
    )
    app.include_router(hub.router(registry.store))
    app.state.registry = registry
    return app
