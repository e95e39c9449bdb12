"""``registry gc``, ``registry migrate-blobs`` and ``registry reindex``: looking after
the blob store and the fingerprints every host's index is built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def gc_command(
    registry: Annotated[Path | None, typer.Option("--registry", help="Registry directory.")] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours",
            help="Keep unreferenced blobs and unfinished uploads younger than this (a "
            "registration must record its files within it).",
        ),
    ] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete blobs no version references (safe while registrations run on any host)."""
    from weightwatch.registry.registry import Registry

    reg = Registry.open(registry, db_url)
    done = reg.collect_blobs(grace=grace_hours * 3600, dry_run=dry_run)
    doc = {
        "store": reg.store.blobs.url,
        "scanned": done.scanned,
        "deleted": done.deleted,
        "kept_claimed": done.kept_claimed,
        "aborted_uploads": done.aborted_uploads,
        "dry_run": dry_run,
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{reg.store.blobs.url}: {done.scanned} blobs, {verb} {len(done.deleted)}, "
        f"kept {done.kept_claimed} claimed by registrations, aborted "
        f"{done.aborted_uploads} unfinished uploads"
    )


def migrate_blobs_command(
    to: Annotated[str, typer.Option("--to", help="Target store: s3://BUCKET[/PREFIX].")],
    registry: Annotated[Path | None, typer.Option("--registry", help="Registry directory.")] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Copy every blob to another store (verified, resumable); then point the hosts at it
    with WEIGHTWATCH_BLOBS_URL."""
    from weightwatch.registry.registry import Registry

    reg = Registry.open(registry, db_url)
    done = reg.migrate_blobs(to)
    if as_json:
        typer.echo(json.dumps(done.__dict__, indent=2))
        return
    typer.echo(
        f"copied {done.copied} blobs ({done.bytes_copied} bytes), {done.skipped} already "
        f"there; now serve with WEIGHTWATCH_BLOBS_URL={done.target}"
    )


def reindex_command(
    registry: Annotated[Path | None, typer.Option("--registry", help="Registry directory.")] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="Database URL.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Copy fingerprints registered before the database held them (migration 0009) into
    the database so every host's index has them. Run once on the host that registered
    them, after upgrading; running it again changes nothing. Exits 1 if a version's
    fingerprint file is missing."""
    from weightwatch.cli.app import EXIT_FINDINGS
    from weightwatch.registry.registry import Registry

    reg = Registry.open(registry, db_url)
    done = reg.reindex()
    doc = {
        "stored": done.stored,
        "indexed": done.indexed,
        "already_present": done.present,
        "missing": [{"version_id": v, "problem": p} for v, p in done.missing],
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(
            f"stored {len(done.stored)} fingerprints in the database, listed "
            f"{len(done.indexed)} for every host's index, {done.present} already there"
        )
        for v, p in done.missing:
            typer.echo(f"version {v}: fingerprint missing: {p}", err=True)
    if done.missing:
        raise typer.Exit(EXIT_FINDINGS)


def attach(app: typer.Typer) -> None:
    app.command("gc")(gc_command)
    app.command("migrate-blobs")(migrate_blobs_command)
    app.command("reindex")(reindex_command)
