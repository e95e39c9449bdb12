"""``weightwatch policy check PATH``: the whole decision for a local folder, unregistered.

Exit 0 when the decision is ``publish`` (warnings allowed), 1 for gate, quarantine or
block, 2 on bad input — so a release pipeline can run it before uploading anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from weightwatch.cli.app import EXIT_FINDINGS, typer_app
from weightwatch.cli.output import console as new_console

policy_app = typer_app(help="Check a model against a policy.", no_args_is_help=True)

COLOURS = {"publish": "green", "gate": "yellow", "quarantine": "magenta", "block": "red"}


@policy_app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="A model folder or file.", metavar="PATH")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML (default: the shipped policy).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The name it would be published under.")
    ] = None,
    access: Annotated[
        str, typer.Option("--access", help="public, gated or restricted.")
    ] = "public",
    index: Annotated[
        Path | None, typer.Option("--index", help="A fingerprint index to detect lineage against.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print facts and decision as JSON.")
    ] = False,
) -> None:
    """Scan, (optionally) trace lineage, gather facts and apply the policy."""
    import json

    from weightwatch.policy import evaluate, facts_for, load_policy
    from weightwatch.registry.policy_bridge import reason_lines

    lineage = None
    if index is not None:
        from weightwatch.fingerprint import fingerprint
        from weightwatch.lineage import FingerprintIndex, explain

        idx = FingerprintIndex(index)
        lineage = explain(idx.search(fingerprint(path)), idx)
    pol = load_policy(policy)
    facts = facts_for(path, name=name, access=access, lineage=lineage)
    decision = evaluate(facts, pol)
    if as_json:
        typer.echo(json.dumps({"facts": facts.to_json(), "decision": decision.to_json()}, indent=2))
    else:
        console = new_console()
        colour = COLOURS.get(decision.action, "white")
        console.print(
            f"[bold {colour}]{decision.action}[/] (access {decision.access}) — policy "
            f"{escape(decision.policy_id)} {escape(decision.policy_version)}"
        )
        for line in reason_lines(decision):
            console.print("  • " + escape(line))
    if decision.action != "publish":
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Attach the ``policy`` command group."""
    app.add_typer(policy_app, name="policy")
