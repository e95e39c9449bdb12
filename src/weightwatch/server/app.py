"""The FastAPI application over one registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from weightwatch import __version__
from weightwatch.registry import Registry
from weightwatch.server import hub, ui


def create_app(root: str | Path | None = None, db_url: str | None = None) -> FastAPI:
    """An app serving the registry at ``root`` (``--registry`` / ``WEIGHTWATCH_REGISTRY``)."""
    registry = Registry.open(Path(root) if root else None, db_url)
    app = FastAPI(title="weightwatch registry", version=__version__)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.include_router(ui.router(registry))
    app.include_router(hub.router(registry.store))
    app.state.registry = registry
    return app
