"""``weightwatch scan PATH...``: find code execution hidden in model files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from weightwatch.cli.app import EXIT_ERROR, EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.errors import UsageError
from weightwatch.scan import ScanReport, Severity, Verdict
from weightwatch.scan.sarif import to_sarif

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def scan_command(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders or hf://ORG/NAME[@REV] repositories.", metavar="PATH..."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="Also write SARIF 2.1.0 to this file.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option("--fail-on", help="Exit 1 at or above: critical, high, medium, low, info."),
    ] = "high",
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Hub endpoint for hf:// (or HF_ENDPOINT).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Bearer token for hf:// (or HF_TOKEN).")
    ] = None,
) -> None:
    """Scan without executing anything; exit 0 clean, 1 findings at --fail-on or above, 2 error."""
    try:
        threshold = Severity(fail_on)
    except ValueError as exc:
        raise UsageError(
            f"--fail-on must be one of {', '.join(s.value for s in Severity)}"
        ) from exc
    from weightwatch.scan.remote import scan_sources

    report, remote = scan_sources(paths, endpoint=endpoint, token=token)
    if sarif is not None:
        sarif.write_text(json.dumps(to_sarif(report), indent=2) + "\n")
    if as_json:
        doc = report.to_json()
        if remote:  # what reading hf:// repositories cost (their report is as if local)
            doc = {**doc, "remote": {src: st.to_json() for src, st in remote.items()}}
        typer.echo(json.dumps(doc, indent=2))
    else:
        render(report, new_console())
        for src, st in remote.items():
            new_console().print(
                f"{src}: fetched {st.bytes_fetched} of {st.bytes_total} bytes "
                f"({st.bytes_fetched / max(st.bytes_total, 1):.2%}) in {st.requests} requests"
            )
    if any(f.severity >= threshold for f in report.findings()):
        raise typer.Exit(EXIT_FINDINGS)
    if report.verdict is Verdict.ERROR:
        raise typer.Exit(EXIT_ERROR)


def render(report: ScanReport, console: Console) -> None:
    for fr in report.files:
        verdict = fr.verdict.value
        style = {
            "clean": "green",
            "suspicious": "yellow",
            "malicious": "bold red",
            "error": "magenta",
        }[verdict]
        if not fr.findings:
            console.print(
                f"[{style}]{verdict:>10}[/{style}]  {escape(fr.path)}  [dim]({fr.format})[/dim]"
            )
            continue
        table = Table(
            title=f"{escape(fr.path)} ({fr.format}): [{style}]{verdict}[/{style}]",
            title_justify="left",
            show_lines=False,
        )
        table.add_column("severity")
        table.add_column("rule")
        table.add_column("where")
        table.add_column("what", overflow="fold")
        for f in sorted(fr.findings, key=lambda f: -f.severity.rank):
            where = " ".join(
                x
                for x in (
                    f.location.member or "",
                    f"@{f.location.offset}" if f.location.offset is not None else "",
                )
                if x
            )
            sev = f.severity.value
            table.add_row(
                f"[{_STYLE[sev]}]{sev}[/{_STYLE[sev]}]",
                f.rule_id,
                escape(where or "-"),
                escape(f"{f.title}: {f.explanation}"),
            )
        console.print(table)
    counts = {v: sum(1 for fr in report.files if fr.verdict is v) for v in Verdict}
    console.print(
        f"{len(report.files)} file{'' if len(report.files) == 1 else 's'}: "
        + ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
        + f" — verdict {report.verdict.value}"
    )


def register(app: typer.Typer) -> None:
    """Attach ``scan``."""
    app.command("scan")(scan_command)
