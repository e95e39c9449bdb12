"""``weightwatch witness keygen|serve``: a standalone C2SP tlog-witness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from weightwatch.cli.app import typer_app
from weightwatch.errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from weightwatch.attest.note import NoteKey
    from weightwatch.attest.witness import Witness

witness_app = typer_app(help="A transparency-log witness (C2SP tlog-witness).")


def _key(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from weightwatch.attest.keys import load_signer

    priv = load_signer(path).private_key
    if not isinstance(priv, ed25519.Ed25519PrivateKey):
        raise UsageError(f"{path}: witness keys are Ed25519")
    return priv


@witness_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("-o", "--output", help="Private key file to write (PEM).")],
    name: Annotated[str, typer.Option("--name", help="The witness's name, e.g. host/witness.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a witness key; prints its cosignature verifier key for logs and clients."""
    from weightwatch.attest.keys import generate, save_keypair
    from weightwatch.attest.note import NoteKey

    if out.exists():
        raise UsageError(f"{out} exists; not overwriting a key")
    save_keypair(generate("ed25519"), out)
    vkey = NoteKey.of(name, _key(out).public_key(), "cosignature").vkey()
    typer.echo(json.dumps({"name": name, "vkey": vkey, "key": str(out)}) if as_json else vkey)


@witness_app.command("serve")
def serve_command(
    key: Annotated[Path, typer.Option("--key", help="The witness's Ed25519 private key (PEM).")],
    name: Annotated[str, typer.Option("--name", help="The witness's name.")],
    log: Annotated[list[str], typer.Option("--log", help="A witnessed log's verifier key.")],
    state: Annotated[
        str, typer.Option("--state", help="Database URL of the witness's state.")
    ] = "sqlite:///witness.db",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
) -> None:
    """Serve ``POST /add-checkpoint`` (and ``/witness/add-checkpoint``) for the given logs."""
    import uvicorn

    from weightwatch.server.witness_app import create_witness_app

    uvicorn.run(create_witness_app(witness_from(key, name, log, state)), host=host, port=port)


def witness_from(key: Path, name: str, logs: list[str], state: str) -> Witness:
    """A ``Witness`` from command-line options (shared with ``serve --witness-*``)."""
    from weightwatch.attest.note import parse_vkey
    from weightwatch.attest.witness import Witness

    trusted: dict[str, list[NoteKey]] = {}
    for v in logs:
        k = parse_vkey(v)
        trusted.setdefault(k.name, []).append(k)
    return Witness(name, _key(key), trusted, state)


def register(app: typer.Typer) -> None:
    app.add_typer(witness_app, name="witness")
