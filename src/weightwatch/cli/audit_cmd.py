"""``weightwatch audit ...`` (commands are being built; see the issue tracker)."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="Red-team safety audits.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the ``audit`` command group."""
    app.add_typer(audit_app, name="audit")
