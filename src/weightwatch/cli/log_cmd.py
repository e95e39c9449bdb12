"""``weightwatch log verify|follow|cosign|vkey``: check entries offline, follow a tiled log
(C2SP tlog-tiles) with k-of-n witness cosignatures, collect cosignatures for a registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import KeyVerifier, load_verifier
from weightwatch.attest.note import NoteKey, open_checkpoint, parse_vkey
from weightwatch.attest.tlog_client import LogClient, TrustState, WitnessEndpoint, follow
from weightwatch.cli.app import typer_app
from weightwatch.errors import ArtifactError, UsageError, VerificationError

log_app = typer_app(
    help="Transparency log: offline verification, following a tiled log, witness cosignatures."
)


@log_app.command("verify")
def verify_command(
    entry: Annotated[Path, typer.Option("--entry", help="The entry's leaf bytes (as published).")],
    proof: Annotated[
        Path, typer.Option("--proof", help='JSON: {"index": N, "hashes": [hex, ...]}.')
    ],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="Signed checkpoint note.")],
    pub: Annotated[Path, typer.Option("--pub", help="The log's Ed25519 public key (PEM).")],
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A witness's cosignature verifier key (repeatable)."),
    ] = None,
    min_witnesses: Annotated[
        int, typer.Option("--min-witnesses", help="Cosignatures required (k of the n given).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify the checkpoint's signature, its witness cosignatures (``--witness KEY...
    --min-witnesses K``) and the entry's inclusion under its root."""
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
    leaf = entry.read_bytes()
    note = checkpoint.read_text()
    verifier = load_verifier(pub)
    cp = verify_entry_offline(leaf, index, hashes, note, verifier)
    cosigners = _require_witnesses(note, cp.origin, verifier, witness or [], min_witnesses)
    if as_json:
        doc = {"verified": True, "index": index, "origin": cp.origin, "size": cp.size}
        doc |= {"root": cp.root.hex(), "cosigners": list(cosigners)}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(
        f"verified: entry {index} is in {cp.origin} at size {cp.size} (root {cp.root.hex()[:16]}…)"
        + (f", cosigned by {', '.join(cosigners)}" if cosigners else "")
    )


def _require_witnesses(
    note: str, origin: str, verifier: KeyVerifier, witnesses: list[str], k: int
) -> tuple[str, ...]:
    if not witnesses and not k:
        return ()
    pub = verifier.public_key
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise VerificationError("checkpoint keys are Ed25519")
    keys = [parse_vkey(w) for w in witnesses]
    return open_checkpoint(note, NoteKey.of(origin, pub), witnesses=keys, min_witnesses=k).cosigners


@log_app.command("follow")
def follow_command(
    url: Annotated[str, typer.Argument(help="The log's tile prefix, e.g. https://host/tlog.")],
    key: Annotated[str, typer.Option("--key", help="The log's note verifier key.")],
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A witness's cosignature verifier key (repeatable)."),
    ] = None,
    min_witnesses: Annotated[
        int, typer.Option("--min-witnesses", help="Cosignatures required (k of the n given).")
    ] = 0,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="JSON file remembering the last checkpoint accepted."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fetch a tiled log's checkpoint; accept it only if the log signed it, enough witnesses
    cosigned it, its tiles hash to its root and it extends the one accepted before."""
    client = LogClient(
        url.rstrip("/"), parse_vkey(key), [parse_vkey(w) for w in witness or []], min_witnesses
    )
    cp, _note = follow(client, TrustState(state) if state else None)
    doc = {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()}
    doc |= {"cosigners": list(cp.cosigners)}
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    cosigned = f", cosigned by {', '.join(cp.cosigners)}" if cp.cosigners else ""
    typer.echo(f"accepted: {cp.origin} at size {cp.size} (root {cp.root.hex()[:16]}…){cosigned}")


@log_app.command("cosign")
def cosign_command(
    witness_url: Annotated[
        list[str], typer.Option("--witness-url", help="URL=VKEY of a witness to ask (repeatable).")
    ],
    registry: Annotated[
        Path | None, typer.Option("--registry", help="Registry data directory.")
    ] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ask witnesses to cosign the registry's current checkpoint and keep their cosignatures.
    Exit 1 if any witness refused (a 409 that persists means a split view)."""
    from weightwatch.registry import Registry

    reg = Registry.open(registry, db_url)
    note, refusals = reg.cosign_checkpoint([witness_endpoint(w) for w in witness_url])
    if as_json:
        typer.echo(json.dumps({"checkpoint": note, "refusals": refusals}, indent=2))
    else:
        typer.echo(note, nl=False)
        for name, why in refusals.items():
            typer.echo(f"refused by {name}: {why}", err=True)
    if refusals:
        raise typer.Exit(1)


@log_app.command("vkey")
def vkey_command(
    registry: Annotated[
        Path | None, typer.Option("--registry", help="Registry data directory.")
    ] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="Name the log first (before its first checkpoint)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the registry log's note verifier key (what witnesses and clients trust)."""
    from weightwatch.registry import Registry

    reg = Registry.open(registry, db_url)
    if origin:
        reg.set_log_origin(origin)
    vkey = reg.log_vkey()
    typer.echo(json.dumps({"origin": reg.store.origin, "vkey": vkey}) if as_json else vkey)


def witness_endpoint(spec: str) -> WitnessEndpoint:
    """``URL=VKEY`` (the URL is the witness's submission prefix, e.g. ``…/witness``)."""
    url, sep, vkey = spec.partition("=")
    if not sep or not url.startswith(("http://", "https://")):
        raise UsageError(f"{spec!r} is not URL=VKEY")
    return WitnessEndpoint(url, parse_vkey(vkey))


def register(app: typer.Typer) -> None:
    """Attach the ``log`` command group."""
    app.add_typer(log_app, name="log")
