"""``registry recipients`` and ``registry trace``: recipient-traceable copies.

``recipients NAME --enable`` serves a version to each recipient as a copy marked with the
recipient's own key (``registry.recipients``; the keys derive from the registry's master
secret, which stays in its ``keys`` folder); without ``--enable`` it lists the copies made.
``trace NAME FILE`` names the recipient whose copy produced a text (or, with
``--derivative``, a model folder), with a p-value exact over all recipients. Exit 1 when
someone is named, 0 when no one is, 2 on a usage or input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from weightwatch.cli.app import EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.errors import UsageError
from weightwatch.watermark.recipients import TRACE_ALPHA

if TYPE_CHECKING:
    from weightwatch.registry import Registry as Reg
    from weightwatch.registry import VersionRow

Registry = Annotated[Path | None, typer.Option("--registry", help="Registry directory.")]
DbUrl = Annotated[str | None, typer.Option("--db-url", help="Database URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open_version(ref: str, registry: Path | None, db_url: str | None) -> tuple[Reg, VersionRow]:
    """The registry and the version ``ref`` names (``NAMESPACE/NAME[@N]``)."""
    from weightwatch.registry.registry import Registry as Reg
    from weightwatch.registry.store import parse_ref

    reg = Reg.open(registry, db_url)
    ns, name, number = parse_ref(ref)
    return reg, reg.resolve(ns, name, number)


def recipients_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@N]", metavar="NAME")],
    enable: Annotated[
        bool, typer.Option("--enable", help="Serve recipients marked copies from now on.")
    ] = False,
    sigma: Annotated[
        float | None, typer.Option("--sigma", help="Mark scale relative to each matrix (0.8).")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="Deployment name (default: the version).")
    ] = None,
    registry: Registry = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Serve a version as recipient-traceable copies (--enable), or list the copies made."""
    from weightwatch.registry import recipients

    reg, v = _open_version(ref, registry, db_url)
    if enable:
        m = recipients.enable(reg.store, v, deployment=deployment, sigma=sigma)
        if as_json:
            typer.echo(json.dumps(m.to_json(), indent=2))
            return
        typer.echo(
            f"{v.label}: served as recipient copies (deployment {m.deployment!r}, sigma "
            f"{m.params['sigma']}, files {', '.join(m.files)})"
        )
        return
    current = recipients.marking(reg.store, v.id)
    rows = recipients.copies(reg.store, v.id)
    doc = {
        "version": v.label,
        "marking": current.to_json() if current else None,
        "copies": [r.__dict__ for r in rows],
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    if current is None:
        typer.echo(f"{v.label} is served as the original to everyone")
        return
    typer.echo(f"{v.label}: {len({r.user for r in rows})} recipient copies made")
    for r in rows:
        typer.echo(f"  {r.user}  {r.path}  key id {r.key_id}  sha256 {r.sha256[:16]}")


def trace_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@N]", metavar="NAME")],
    file: Annotated[
        Path | None,
        typer.Argument(help="Text, token ids (JSON), or with --derivative a model folder."),
    ] = None,
    children: Annotated[
        bool,
        typer.Option(
            "--children", help="Trace every registered version lineage found derived from NAME."
        ),
    ] = False,
    derivative: Annotated[
        bool, typer.Option("--derivative", help="FILE is a model folder: test its weights.")
    ] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", help="False-accusation rate accepted.")
    ] = TRACE_ALPHA,
    registry: Registry = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Name the recipient whose copy of NAME produced FILE (exact over all recipients)."""
    from weightwatch.cli.watermark_weights import read_text_input
    from weightwatch.registry import recipients

    reg, v = _open_version(ref, registry, db_url)
    if children:
        _trace_children(reg, v, alpha=alpha, as_json=as_json)
        return
    if file is None:
        raise UsageError("give a FILE to trace, or --children")
    with progress("tracing", quiet=as_json):
        if derivative:
            report = recipients.trace(reg.store, v, derivative=file, alpha=alpha)
        else:
            data = read_text_input(file)
            report = recipients.trace(
                reg.store, v, token_ids=data.token_ids, text=data.text, alpha=alpha
            )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        d = report.detection
        out = new_console()
        if report.recipient is not None:
            out.print(f"[bold red]copy of {escape(report.recipient)}[/bold red]", end="  ")
        else:
            out.print("[green]no recipient named[/green]", end="  ")
        out.print(
            f"p = {d.p_value:.3g} (log10 {d.log10_p_value:.1f}) over "
            f"{report.recipients_tested} recipients, alpha = {d.alpha:g}; "
            + (f"{d.n_tokens} tokens" if d.evidence == "text" else "weight difference")
        )
    if report.recipient is not None:
        raise typer.Exit(EXIT_FINDINGS)


def _trace_children(reg: Any, v: Any, *, alpha: float, as_json: bool) -> None:
    """``trace --children``: each registered child of ``v`` (declared or detected)."""
    from weightwatch.registry import recipients
    from weightwatch.registry.store import parse_ref

    reports = []
    for edge in reg.status(v.label).children:
        cns, cname, cnum = parse_ref(edge.model)
        child = reg.resolve(cns, cname, cnum)
        reports.append((edge.model, recipients.trace_registered(reg.store, v, child, alpha=alpha)))
    if as_json:
        typer.echo(json.dumps({m: r.to_json() for m, r in reports}, indent=2))
    else:
        if not reports:
            typer.echo(f"{v.label} has no registered children")
        for model, r in reports:
            who = r.recipient or "no recipient named"
            typer.echo(f"{model}: {who} (p = {r.detection.p_value:.3g})")
    if any(r.recipient is not None for _, r in reports):
        raise typer.Exit(EXIT_FINDINGS)


def attach(app: typer.Typer) -> None:
    app.command("recipients")(recipients_command)
    app.command("trace")(trace_command)
