"""``weightwatch serve``: the registry's HTTP server (web UI, JSON API, Hub-compatible
downloads). One server process per registry directory: it aborts the uploads a dead server
left half-received there when it starts. Several hosts (each its own directory) share one
database and object store (docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weightwatch.errors import UsageError


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
    max_upload_gib: Annotated[
        float, typer.Option("--max-upload-gib", help="Largest upload (all files), GiB.")
    ] = 200,
    max_file_gib: Annotated[
        float, typer.Option("--max-file-gib", help="Largest single uploaded file, GiB.")
    ] = 100,
    blobs: Annotated[
        str | None,
        typer.Option(
            "--blobs", help="Blob store, s3://BUCKET[/PREFIX] [env WEIGHTWATCH_BLOBS_URL]."
        ),
    ] = None,
    downloads: Annotated[
        str | None,
        typer.Option(
            "--downloads",
            help="stream | redirect (presigned URLs; default for an object store) "
            "[env WEIGHTWATCH_DOWNLOADS].",
        ),
    ] = None,
    runner: Annotated[
        str | None,
        typer.Option(
            "--runner",
            help="inline | thread | ray (joins RAY_ADDRESS if set) [env WEIGHTWATCH_RUNNER].",
        ),
    ] = None,
    redirect_seconds: Annotated[
        int | None,
        typer.Option(
            "--redirect-seconds",
            help="How long a presigned URL works (default 60) [env WEIGHTWATCH_REDIRECT_SECONDS].",
        ),
    ] = None,
    witness_key: Annotated[
        Path | None, typer.Option("--witness-key", help="Also run a witness with this key.")
    ] = None,
    witness_name: Annotated[
        str | None, typer.Option("--witness-name", help="The witness's name.")
    ] = None,
    witness_log: Annotated[
        list[str] | None, typer.Option("--witness-log", help="A log to witness (verifier key).")
    ] = None,
    witness_state: Annotated[
        str | None, typer.Option("--witness-state", help="Witness state database URL.")
    ] = None,
    ask_witness: Annotated[
        list[str] | None,
        typer.Option("--ask-witness", help="URL=VKEY of a witness to cosign this log."),
    ] = None,
    cosign_every: Annotated[
        float, typer.Option("--cosign-every", help="Seconds between cosigning rounds.")
    ] = 10.0,
) -> None:
    """Serve the registry over HTTP: web UI, JSON API (/docs), Hub-compatible downloads."""
    import uvicorn

    from weightwatch.cli.log_cmd import witness_endpoint
    from weightwatch.cli.witness_cmd import witness_from
    from weightwatch.server import create_app
    from weightwatch.server.tlog import TlogConfig

    tlog = TlogConfig(
        witnesses=[witness_endpoint(w) for w in ask_witness or []], cosign_every=cosign_every
    )
    if witness_key is not None:
        if not witness_name or not witness_log:
            raise UsageError("--witness-key needs --witness-name and --witness-log")
        state = witness_state or f"sqlite:///{Path(registry or '.') / 'witness.db'}"
        tlog.witness = witness_from(witness_key, witness_name, witness_log, state)

    uvicorn.run(
        create_app(
            registry,
            db_url,
            watermark_master=watermark_master,
            max_upload_bytes=int(max_upload_gib * (1 << 30)),
            max_file_bytes=int(max_file_gib * (1 << 30)),
            blobs=blobs,
            downloads=downloads,
            redirect_seconds=redirect_seconds,
            runner=runner,
            tlog_config=tlog,
        ),
        host=host,
        port=port,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    """Attach ``serve``."""
    app.command("serve")(serve_command)
