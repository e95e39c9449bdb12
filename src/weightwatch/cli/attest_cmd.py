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
    path: Annotated[
        Path | None,
        typer.Argument(help="Model folder or file (for a model bundle).", metavar="PATH"),
    ] = None,
    bundle: Annotated[
        Path,
        typer.Option(
            "--bundle", help="Model bundle (weightwatch or model_signing) or signed audit."
        ),
    ] = ...,  # type: ignore[assignment]  # required (Typer's spelling after an optional PATH)
    pub: Annotated[Path, typer.Option("--pub", help="Signer's public key (PEM).")] = ...,  # type: ignore[assignment]
    base: Annotated[
        Path | None, typer.Option("--base", help="Audit: the base model to check.")
    ] = None,
    derivative: Annotated[
        Path | None, typer.Option("--derivative", help="Audit: the derivative model to check.")
    ] = None,
    log_key: Annotated[
        Path | None,
        typer.Option("--log-key", help="Audit: the registry log's public key (checks the proof)."),
    ] = None,
    require_log: Annotated[
        bool, typer.Option("--require-log", help="Audit: fail unless it was logged.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a signed bundle offline: a model's files, or an audit with its log proof.

    The bundle's statement type decides: a signed audit comparison needs --base and
    --derivative (both weights digests are checked) and, if logged, --log-key."""
    try:
        doc = json.loads(bundle.read_text())
    except ValueError as exc:  # a missing or unreadable file is an OSError naming it (exit 2)
        raise ArtifactError(bundle, f"not a JSON bundle ({exc})") from exc
    if _predicate_type(doc) == _comparison_predicate():
        from weightwatch.cli.audit_cmd import check_audit_bundle

        if base is None or derivative is None or path is not None:
            raise UsageError(
                f"{bundle}: a signed audit is checked against --base and --derivative",
                hint="weightwatch verify --bundle AUDIT --pub KEY --base B --derivative D",
            )
        check_audit_bundle(
            doc,
            base=base,
            derivative=derivative,
            pub=pub,
            log_key=log_key,
            require_log=require_log,
            as_json=as_json,
        )
        return
    if path is None:
        raise UsageError(f"{bundle}: a model bundle is checked against the model: give PATH")
    if base or derivative or log_key or require_log:
        raise UsageError(f"{bundle}: --base/--derivative/--log-key are for signed audits")
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


def _predicate_type(doc: object) -> str | None:
    """The statement type an (unverified) DSSE bundle claims; only used to pick the check."""
    import base64

    try:
        payload = doc["dsseEnvelope"]["payload"]  # type: ignore[index]
        value = json.loads(base64.b64decode(payload, validate=True))["predicateType"]
    except (KeyError, TypeError, ValueError):
        return None
    return value if isinstance(value, str) else None


def _comparison_predicate() -> str:
    from weightwatch.audit.attestation import PREDICATE_COMPARISON

    return PREDICATE_COMPARISON


def register(app: typer.Typer) -> None:
    """Attach ``keygen``, ``sign`` and ``verify``."""
    app.command("keygen")(keygen_command)
    app.command("sign")(sign_command)
    app.command("verify")(verify_command)
