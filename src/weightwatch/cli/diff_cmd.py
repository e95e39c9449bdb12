"""``weightwatch diff BASE DERIVATIVE``: what was done to the weights (no inference).

Exit 1 when the derivative carries an abliteration signature (a finding), 0 otherwise,
2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from weightwatch.cli.app import EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress


def diff_command(
    base: Annotated[Path, typer.Argument(help="The base model (folder or file).", metavar="BASE")],
    derivative: Annotated[
        Path, typer.Argument(help="The derivative to examine.", metavar="DERIVATIVE")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    all_matrices: Annotated[
        bool, typer.Option("--all", help="List unchanged matrices too.")
    ] = False,
) -> None:
    """Classify the weight difference per matrix and name the derivation."""
    from weightwatch.forensics import diff_models

    with progress(f"comparing {derivative} with {base}", quiet=as_json):
        report = diff_models(base, derivative)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        out = new_console()
        style = "bold red" if report.derivation == "abliterated" else "bold"
        out.print(
            f"[{style}]{report.derivation}[/{style}]  {escape(str(derivative))} vs "
            f"{escape(str(base))}  (abliteration score {report.abliteration_score:.3f}"
            + (
                f", direction consistency {report.direction_consistency:.3f}"
                if report.direction_consistency is not None
                else ""
            )
            + ")"
        )
        table = Table("tensor", "kind", "relative change", "rank", "projection share")
        for m in report.matrices:
            if m.kind == "unchanged" and not all_matrices:
                continue
            table.add_row(
                escape(m.name),
                m.kind + (f" (int{m.quant_bits})" if m.quant_bits else ""),
                f"{m.relative_change:.2e}",
                "" if m.rank is None else str(m.rank),
                f"{m.projection_energy:.3f}" if m.projection_energy else "",
            )
        out.print(table)
        for note in report.notes:
            out.print(f"[yellow]note:[/yellow] {escape(note)}")
    if report.derivation == "abliterated":
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Attach ``diff``."""
    app.command("diff")(diff_command)
