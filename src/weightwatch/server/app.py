"""The FastAPI application over one registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from weightwatch import __version__
from weightwatch.registry.store import open_store
from weightwatch.server.hub import router


def create_app(root: str | Path | None = None, db_url: str | None = None) -> FastAPI:
    """An app serving the registry at ``root`` (``--registry`` / ``WEIGHTWATCH_REGISTRY``)."""
    store = open_store(Path(root) if root else None, db_url)
    app = FastAPI(title="weightwatch registry", version=__version__)
    app.include_router(router(store))
    app.state.store = store
    return app
