"""``weightwatch recall``: who must be told that a version was withdrawn.

Lists every account and API token the download log shows was served the version or any
of its descendants, with what and when (``--json``: the ``RecallReport``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from weightwatch.cli.registry_cmd import DbUrl, RegistryDir, _open


def recall_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME@VERSION")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the recall report as JSON.")
    ] = False,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
) -> None:
    """Everyone who downloaded a version or any of its descendants."""
    reg = _open(registry, db_url)
    try:
        report = reg.recall(ref)
    finally:
        reg.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    console = Console()
    reason = f" — taken down: {escape(report.reason)}" if report.reason else ""
    console.print(f"[bold]{escape(report.model)}[/] ({report.status}){reason}")
    console.print("versions: " + ", ".join(escape(v) for v in report.versions))
    console.print(
        f"{len(report.accounts)} account(s), {len(report.tokens)} token(s), "
        f"{report.anonymous} anonymous download(s)"
    )
    if report.entries:
        table = Table("account", "token", "version", "file", "when")
        for e in report.entries:
            table.add_row(
                escape(e.user or "(anonymous)"),
                e.token or "",
                escape(e.version),
                escape(e.path),
                e.downloaded_at,
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("recall")(recall_command)
