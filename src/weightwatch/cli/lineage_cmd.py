"""``weightwatch fingerprint`` and ``weightwatch lineage``: recognise derivatives from weights.

``lineage`` exits 0 when the verdict is ``unrelated`` and 1 when ``derived``, so a
pipeline can gate on it like on scan findings; 2 on bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from weightwatch.artifacts import open_artifact
from weightwatch.cli.app import EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.errors import UsageError
from weightwatch.fingerprint import Fingerprint, fingerprint
from weightwatch.fingerprint.model import FORMAT
from weightwatch.lineage import Comparison, FingerprintIndex, Lineage, compare, explain, p_text


def _load_or_compute(path: Path) -> Fingerprint:
    """A fingerprint file is read as one; anything else is fingerprinted."""
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(4096)
        if FORMAT.encode() in head:
            return Fingerprint.load(path)
    return fingerprint(path)


def fingerprint_command(
    path: Annotated[
        Path, typer.Argument(help="A model folder, weight file or GGUF.", metavar="PATH")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the fingerprint to FILE.")
    ] = None,
    add_to: Annotated[
        Path | None, typer.Option("--add-to", help="Also add it to the index in DIR.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name in the index (default: the folder name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Fingerprint a model from its weights alone (no inference)."""
    with progress(f"fingerprinting {path}", quiet=as_json):
        fp = fingerprint(path)
    written = fp.save(output) if output else None
    entry = None
    if add_to is not None:
        entry = FingerprintIndex(add_to, create=True).add(name or path.name, fp)
    summary = {
        "path": str(path),
        "anchors": len(fp.anchors),
        "layers": fp.n_layers,
        "kinds": sorted(fp.layers),
        "info": fp.info,
        "output": str(written) if written else None,
        "index_id": entry,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    info = fp.info
    grid.add_row("model", escape(str(path)))
    grid.add_row(
        "architecture",
        f"{info.get('arch')} ({info.get('layout')}), {fp.n_layers} layers, "
        f"hidden {info.get('hidden')}",
    )
    grid.add_row("anchors", f"{len(fp.anchors)} tokens matched by their bytes")
    grid.add_row(
        "stored",
        ", ".join(t for t in info.get("dtypes", []))
        + (" (quantized)" if info.get("quantized") else ""),
    )
    if written:
        grid.add_row("written", escape(str(written)))
    if entry is not None:
        grid.add_row(
            "index", f"added to {escape(str(add_to))} as #{entry} ({escape(name or path.name)})"
        )
    new_console().print(grid)


def lineage_command(
    path: Annotated[
        Path, typer.Argument(help="The model (or fingerprint file) to trace.", metavar="PATH")
    ],
    against: Annotated[
        Path | None,
        typer.Option("--against", help="A suspected parent: model or fingerprint file."),
    ] = None,
    index: Annotated[
        Path | None, typer.Option("--index", help="Search this fingerprint index instead.")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Matches to show from the index.")] = 10,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Call it derived below this (adjusted) p-value.")
    ] = 1e-3,
    test: Annotated[
        str,
        typer.Option(
            "--test",
            help="p-value with --against: both (default: the smaller of the two, doubled), "
            "fitted (anchor score vs the fitted null) or blocks (the shared-units test, "
            "no fitted population; see docs/lineage.md).",
        ),
    ] = "both",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Is PATH derived from a registered model? Exit 1 when derived, 0 when unrelated."""
    if test not in ("both", "fitted", "blocks"):
        raise UsageError(f"--test must be both, fitted or blocks, not {test!r}")
    if (against is None) == (index is None):
        raise UsageError("give exactly one of --against PATH or --index DIR")
    art = None if path.is_file() and path.suffix == ".wwfp" else open_artifact(path)
    if art is not None and art.adapter is not None and art.config is None:
        _adapter(path, art.adapter.base_model, as_json)
        return
    child = _load_or_compute(path)
    if against is not None:
        result: Comparison | Lineage = compare(
            _load_or_compute(against),
            child,
            alpha=alpha,
            test=test,  # type: ignore[arg-type]  # checked above
            child_name=path.name,
            parent_name=against.name,
        )
    else:
        assert index is not None
        idx = FingerprintIndex(index)
        result = explain(idx.search(child, top=top, alpha=alpha), idx, alpha=alpha)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _render(result)
    if result.verdict == "derived":
        raise typer.Exit(EXIT_FINDINGS)


def _adapter(path: Path, base: str | None, as_json: bool) -> None:
    doc = {
        "verdict": "derived",
        "relation": "adapter",
        "parents": [{"name": base, "relation": "adapter"}] if base else [],
        "note": "a PEFT adapter only holds weight deltas; its base is the one it names "
        "(fingerprint the merged model to check that claim)",
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        new_console().print(
            f"[bold]{escape(str(path))}[/]: adapter of {escape(str(base))} ({doc['note']})"
        )
    raise typer.Exit(EXIT_FINDINGS)


def _render(result: Comparison | Lineage) -> None:
    console = new_console()
    if isinstance(result, Comparison):
        colour = "red" if result.verdict == "derived" else "green"
        console.print(
            f"[bold {colour}]{result.verdict}[/] — relation [bold]{result.relation}[/], "
            f"score {result.score:.4f}, p = {p_text(result.log10_p)} "
            f"({result.shared_anchors} shared anchors, embedding r {result.embedding_r:.3f})"
        )
        if result.blocks is not None:
            b = result.blocks
            agree = ", ".join(f"{k}/{b.units}" for k in b.agree)
            fitted = result.log10_p_fitted
            also = "" if fitted is None else f"; anchor score vs fitted null: p = {p_text(fitted)}"
            console.print(
                f"shared MLP units (population-free): {agree} agree, p = {p_text(b.log10_p)}{also}"
            )
        t = Table("parent layer", "child layer", "r", title="aligned layers", title_justify="left")
        for m in result.layers:
            t.add_row(str(m.parent_layer), str(m.child_layer), f"{m.r:.4f}")
        console.print(t)
        for d in result.disagreements:
            console.print(f"[yellow]card disagrees:[/] {escape(d)}")
        return
    colour = "red" if result.verdict == "derived" else "green"
    parents = ", ".join(
        f"{escape(p.name)} ({p.relation}, p = {p_text(p.log10_p)})" for p in result.parents
    )
    console.print(
        f"[bold {colour}]{result.verdict}[/] — relation [bold]{result.relation}[/]"
        + (f"; parents: {parents}" if parents else "")
        + f"  (searched {result.searched} model{'' if result.searched == 1 else 's'})"
    )
    t = Table(
        "registered model",
        "score",
        "p (unadjusted)",
        "relation",
        title="closest",
        title_justify="left",
    )
    for c in result.matches:
        t.add_row(escape(c.parent), f"{c.score:.4f}", p_text(c.log10_p), c.relation)
    console.print(t)
    for d in result.disagreements:
        console.print(f"[yellow]card disagrees:[/] {escape(d)}")


def register(app: typer.Typer) -> None:
    """Attach ``fingerprint`` and ``lineage``."""
    app.command("fingerprint")(fingerprint_command)
    app.command("lineage")(lineage_command)
