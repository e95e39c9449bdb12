"""``weightwatch bom`` and ``bom-verify``: AI-BOMs (CycloneDX 1.6, SPDX 3.0.1 AI) of a
registered version or a local folder, signed detached with the registry key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weightwatch.cli import verifying
from weightwatch.cli.output import progress
from weightwatch.errors import ArtifactError, UsageError

if TYPE_CHECKING:
    from weightwatch.bom.model import BomSubject

Registry_ = Annotated[
    Path | None,
    typer.Option("--registry", help="Registry data directory [env WEIGHTWATCH_REGISTRY]."),
]
DbUrl = Annotated[
    str | None, typer.Option("--db-url", help="Database URL [env WEIGHTWATCH_DB_URL].")
]


def _subject(target: str, registry: Path | None, db_url: str | None) -> tuple[BomSubject, Any]:
    """A local path when one exists; otherwise a registry reference."""
    from weightwatch.bom.gather import from_path, from_registry

    if Path(target).exists():
        return from_path(target), None
    if "/" not in target:
        raise UsageError(f"{target}: no such file or folder, and not NAMESPACE/NAME[@VERSION]")
    from weightwatch.registry import Registry

    reg = Registry.open(registry, db_url)
    return from_registry(reg, target), reg


def bom_command(
    target: Annotated[
        str, typer.Argument(help="Model folder or file, or NAMESPACE/NAME[@VERSION].")
    ],
    fmt: Annotated[str, typer.Option("--format", help="cyclonedx or spdx.")] = "cyclonedx",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the BOM here (and FILE.sig).")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Sign with this private key (default: the registry's key)."),
    ] = None,
    download_location: Annotated[
        str | None, typer.Option("--download-location", help="SPDX downloadLocation URL.")
    ] = None,
    registry: Registry_ = None,
    db_url: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """AI-BOM (CycloneDX 1.6 or SPDX 3.0.1) with lineage from weights."""
    from weightwatch.bom import FORMATS, completeness, render, sign_bom, to_bytes

    if fmt not in FORMATS:
        raise UsageError(f"unknown BOM format {fmt!r}; choose from {', '.join(FORMATS)}")
    with progress(f"gathering {target}", quiet=as_json or output is None):
        subject, reg = _subject(target, registry, db_url)
    try:
        data = to_bytes(render(subject, fmt, download_location=download_location))
        signer = None
        if key is not None:
            from weightwatch.attest import load_signer

            signer = load_signer(key)
        elif reg is not None:
            signer = reg.store.signer
    finally:
        if reg is not None:
            reg.close()
    score = completeness(subject)
    if output is None:
        typer.echo(data.decode("utf-8"), nl=False)
        return
    output.write_bytes(data)
    sig_path = None
    if signer is not None:
        bundle = sign_bom(
            data, signer, fmt=fmt, model=subject.label, weights_digest=subject.weights_digest
        )
        sig_path = output.with_name(output.name + ".sig")
        sig_path.write_text(json.dumps(bundle, indent=2) + "\n")
    if as_json:
        doc = {
            "model": subject.label,
            "format": fmt,
            "bom": str(output),
            "signature": None if sig_path is None else str(sig_path),
            "key_id": None if signer is None else signer.key_id,
            "completeness": score.to_json(),
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"{fmt} AI-BOM of {subject.label} -> {output}")
    if sig_path is not None and signer is not None:
        typer.echo(f"signed (DSSE, key {signer.key_id[:16]}…) -> {sig_path}")
    missing = [f.id for f in score.fields if not f.present]
    typer.echo(
        f"completeness {score.filled}/{score.total}"
        + (f" (missing: {', '.join(missing)})" if missing else "")
    )


def bom_verify_command(
    bom: Annotated[Path, typer.Argument(help="BOM file (CycloneDX or SPDX JSON).")],
    signature: Annotated[
        Path | None, typer.Option("--signature", help="Detached bundle [default: BOM.sig].")
    ] = None,
    pub: Annotated[
        Path | None, typer.Option("--pub", help="Public key (default: the registry's key).")
    ] = None,
    registry: Registry_ = None,
    db_url: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a BOM's detached signature and its schema validity."""
    from weightwatch.bom import validate, verify_bom

    data = bom.read_bytes()
    sig = signature or bom.with_name(bom.name + ".sig")
    try:
        doc = json.loads(data)
        bundle = json.loads(sig.read_text())
    except ValueError as exc:
        raise ArtifactError(bom, f"not JSON ({exc})") from exc
    fmt = "spdx" if isinstance(doc, dict) and "@context" in doc else "cyclonedx"
    verifier = verifying.verifier(pub, registry, db_url)
    stmt = verify_bom(data, bundle, verifier)
    validate(doc, fmt)
    model = stmt["predicate"].get("model")
    if as_json:
        out = {"bom": str(bom), "format": fmt, "model": model, "key_id": verifier.key_id}
        typer.echo(json.dumps({**out, "ok": True}, indent=2))
        return
    typer.echo(f"verified: {bom} ({fmt}, {model}) signed by key {verifier.key_id[:16]}…")


def register(app: typer.Typer) -> None:
    """Attach ``bom`` and ``bom-verify``."""
    app.command("bom")(bom_command)
    app.command("bom-verify")(bom_verify_command)
