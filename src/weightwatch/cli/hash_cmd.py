"""``weightwatch hash PATH``: per-file digests and the model's weights and value identity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.errors import UsageError
from weightwatch.identity import compute_manifest
from weightwatch.identity.hashing import ALGORITHMS


def hash_command(
    path: Annotated[Path, typer.Argument(help="A model file or folder.", metavar="PATH")],
    algorithm: Annotated[
        str, typer.Option("--algorithm", "-a", help="sha256 (OpenSSF-compatible) or blake3.")
    ] = "sha256",
    tensors: Annotated[
        bool, typer.Option("--tensors/--no-tensors", help="Also compute the weights identity.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Digest every file and compute the format-invariant weights and value digests."""
    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    with progress(f"hashing {path}", quiet=as_json) as update:
        manifest = compute_manifest(
            path, algorithm=algorithm, tensors=tensors, progress=lambda d, t: update(d, t)
        )
    if as_json:
        typer.echo(manifest.model_dump_json(indent=2))
        return
    console = new_console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("path", str(path))
    grid.add_row("algorithm", manifest.algorithm)
    grid.add_row("weights digest", manifest.weights_digest or "-")
    grid.add_row("value digest", manifest.value_digest or "-")
    grid.add_row("tensors", str(len(manifest.tensors)))
    console.print(grid)
    # One line per file in sha256sum's format (digest, two spaces, path), so a digest is
    # never wrapped mid-value and the list checks with `sha256sum -c` (sizes: --json).
    console.print(f"files ({manifest.algorithm}sum format)")
    for f in manifest.files:
        shown = f.path + (f" -> {f.symlink}" if f.symlink else "")
        console.print(f"{f.digest}  {escape(shown)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach ``hash``."""
    app.command("hash")(hash_command)
