"""``weightwatch serve``: the registry's HTTP server (Hub-compatible downloads for now)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weightwatch.cli import app


@app.command("serve")
def serve_command(
    registry: Annotated[
        Path | None, typer.Option("--registry", help="Registry data directory.")
    ] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    watermark_master: Annotated[
        Path | None,
        typer.Option("--watermark-master", help="Master secret: enables watermark detection."),
    ] = None,
) -> None:
    """Serve the registry over HTTP (HF_ENDPOINT-compatible downloads, gated by access)."""
    import uvicorn

    from weightwatch.server import create_app

    uvicorn.run(
        create_app(registry, db_url, watermark_master=watermark_master),
        host=host,
        port=port,
        log_level="info",
    )
