"""``weightwatch log verify``: check a log entry's inclusion offline, trusting only a key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import load_verifier
from weightwatch.cli.app import typer_app
from weightwatch.errors import ArtifactError

log_app = typer_app(help="Transparency log: offline verification of entries and checkpoints.")


@log_app.command("verify")
def verify_command(
    entry: Annotated[Path, typer.Option("--entry", help="The entry's leaf bytes (as published).")],
    proof: Annotated[
        Path, typer.Option("--proof", help='JSON: {"index": N, "hashes": [hex, ...]}.')
    ],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="Signed checkpoint note.")],
    pub: Annotated[Path, typer.Option("--pub", help="The log's Ed25519 public key (PEM).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify the checkpoint's signature and the entry's inclusion under its root."""
    try:
        doc = json.loads(proof.read_text())
        index = int(doc["index"])
        hashes = [bytes.fromhex(h) for h in doc["hashes"]]
    except OSError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            proof, f'not a proof document ({{"index": N, "hashes": [...]}}): {exc}'
        ) from exc
    cp = verify_entry_offline(
        entry.read_bytes(), index, hashes, checkpoint.read_text(), load_verifier(pub)
    )
    if as_json:
        doc = {"verified": True, "index": index, "origin": cp.origin, "size": cp.size}
        typer.echo(json.dumps({**doc, "root": cp.root.hex()}, indent=2))
        return
    typer.echo(
        f"verified: entry {index} is in {cp.origin} at size {cp.size} (root {cp.root.hex()[:16]}…)"
    )


def register(app: typer.Typer) -> None:
    """Attach the ``log`` command group."""
    app.add_typer(log_app, name="log")
