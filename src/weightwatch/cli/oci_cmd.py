"""``weightwatch oci push|pull``: registered versions as CNCF ModelPack artifacts on any
OCI registry, with the signed bundle attached as a referrer; pulls verify first."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from weightwatch.cli import verifying
from weightwatch.cli.app import typer_app
from weightwatch.cli.output import progress

oci_app = typer_app(help="OCI distribution: push and verified pull.", no_args_is_help=True)

Registry_ = Annotated[
    Path | None,
    typer.Option("--registry", help="Registry data directory [env WEIGHTWATCH_REGISTRY]."),
]
DbUrl = Annotated[
    str | None, typer.Option("--db-url", help="Database URL [env WEIGHTWATCH_DB_URL].")
]
PlainHttp = Annotated[
    bool | None,
    typer.Option(
        "--plain-http/--tls", help="Talk HTTP, not HTTPS [default: HTTP for loopback only]."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@oci_app.command("push")
def push_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION] in the registry.")],
    target: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG to push to.")],
    registry: Registry_ = None,
    db_url: DbUrl = None,
    plain_http: PlainHttp = None,
    as_json: AsJson = False,
) -> None:
    """Push a version as a ModelPack artifact with its signature bundle as a referrer."""
    from weightwatch.oci import push
    from weightwatch.registry import Registry

    reg = Registry.open(registry, db_url)
    try:
        with progress(f"pushing {ref} to {target}", quiet=as_json):
            done = push(reg, ref, target, plain_http=plain_http)
    finally:
        reg.close()
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(done), indent=2))
        return
    typer.echo(f"pushed {ref} -> {done.reference} ({done.files} files, {done.bytes} bytes)")
    typer.echo(f"manifest {done.digest}\nsignature referrer {done.signature}")


@oci_app.command("pull")
def pull_command(
    source: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST].")],
    output: Annotated[Path, typer.Option("--output", "-o", help="New or empty folder.")],
    pub: Annotated[
        Path | None,
        typer.Option("--pub", help="Trusted public key (PEM) [default: the registry's key]."),
    ] = None,
    registry: Registry_ = None,
    db_url: DbUrl = None,
    plain_http: PlainHttp = None,
    as_json: AsJson = False,
) -> None:
    """Pull a ModelPack artifact, verifying digests and the signature before writing."""
    from weightwatch.oci import pull

    verifier = verifying.verifier(pub, registry, db_url)
    with progress(f"pulling {source}", quiet=as_json):
        done = pull(source, output, verifier, plain_http=plain_http)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(done), indent=2))
        return
    typer.echo(f"pulled {done.reference} -> {done.out} ({done.files} files, {done.bytes} bytes)")
    typer.echo(f"verified: signed by key {done.key_id[:16]}…, weights {done.weights_digest}")


def register(app: typer.Typer) -> None:
    """Attach the ``oci`` group."""
    app.add_typer(oci_app, name="oci")
