"""``weightwatch keygen | sign | verify``: signed manifests that OpenSSF model signing reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from weightwatch.attest import (
    KEY_TYPES,
    generate,
    load_signer,
    load_verifier,
    save_keypair,
    sign_model,
    verify_model,
)
from weightwatch.cli.app import EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.errors import ArtifactError, UsageError


def _password(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if value is None:
        raise UsageError(f"environment variable {env} (named by --password-env) is not set")
    return value.encode()


def keygen_command(
    out: Annotated[
        Path,
        typer.Argument(help="Private key file to write (PEM); the public key goes to OUT.pub."),
    ],
    key_type: Annotated[
        str, typer.Option("--type", help="ed25519 or ecdsa-p256 (OpenSSF-compatible).")
    ] = "ed25519",
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Encrypt with the passphrase in this variable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a signing key pair."""
    if key_type not in KEY_TYPES:
        raise UsageError(f"unknown key type {key_type!r}; choose from {', '.join(KEY_TYPES)}")
    if out.exists():
        raise UsageError(f"{out} exists; refusing to overwrite a key")
    signer = generate(key_type)  # type: ignore[arg-type]
    pub = save_keypair(signer, out, password=_password(password_env))
    if as_json:
        doc = {"private_key": str(out), "public_key": str(pub), "key_id": signer.key_id}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"private key: {out}\npublic key:  {pub}\nkey id:      {signer.key_id}")


def sign_command(
    path: Annotated[Path, typer.Argument(help="Model folder or file.", metavar="PATH")],
    key: Annotated[Path, typer.Option("--key", help="Private key (PEM).")],
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            "--bundle",
            help="Where to write the bundle [default: PATH/model.sig].",
        ),
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Read the key's passphrase from this variable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hash PATH and write a signed bundle (default: PATH/model.sig for a folder)."""
    out = bundle or (path / "model.sig" if path.is_dir() else path.with_name(path.name + ".sig"))
    signer = load_signer(key, password=_password(password_env))
    with progress(f"hashing and signing {path}", quiet=as_json):
        doc = sign_model(path, signer, bundle_path=out)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps({"path": str(path), "bundle": str(out)}, indent=2))
        return
    typer.echo(f"signed {path} -> {out}")


def verify_command(
    path: Annotated[Path, typer.Argument(help="Model folder or file.", metavar="PATH")],
    bundle: Annotated[
        Path, typer.Option("--bundle", help="Bundle written by weightwatch or model_signing.")
    ],
    pub: Annotated[Path, typer.Option("--pub", help="Public key (PEM).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the signature and that every file is exactly what was signed."""
    try:
        doc = json.loads(bundle.read_text())
    except ValueError as exc:  # a missing or unreadable file is an OSError naming it (exit 2)
        raise ArtifactError(bundle, f"not a JSON bundle ({exc})") from exc
    verifier = load_verifier(pub)
    with progress(f"hashing and verifying {path}", quiet=as_json):
        result = verify_model(path, doc, verifier, bundle_path=bundle)
    if as_json:
        typer.echo(json.dumps({**result.__dict__, "ok": result.ok}, indent=2))
    else:
        console = new_console()
        for label, items in (
            ("changed", result.changed),
            ("missing", result.missing),
            ("added", result.added),
        ):
            for item in items:
                console.print(f"[red]{label}[/red]  {escape(item)}")
        if result.weights_ok is False:
            console.print("[red]weights digest differs from the signed one[/red]")
        verdict = "[green]verified[/green]" if result.ok else "[red]FAILED[/red]"
        console.print(f"{verdict}: {escape(str(path))} signed by key {result.key_id[:16]}…")
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Attach ``keygen``, ``sign`` and ``verify``."""
    app.command("keygen")(keygen_command)
    app.command("sign")(sign_command)
    app.command("verify")(verify_command)
