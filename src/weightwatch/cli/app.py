"""The root of the ``weightwatch`` command: the Typer app, ``--version`` and the exit codes.

This module knows no command. Each command module exposes ``register(app)`` and
``weightwatch.cli`` lists them once and attaches them to a fresh app (``build_app``), so
command modules import from here, never the other way round, and no app is global.
"""

from __future__ import annotations

from typing import Annotated

import typer

from weightwatch import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"weightwatch {__version__}")
        raise typer.Exit(EXIT_OK)


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Safety infrastructure for open-weight model releases."""


def create_app() -> typer.Typer:
    """The root app with ``--version`` and no commands yet."""
    app = typer.Typer(
        name="weightwatch",
        help="Safety infrastructure for open-weight model releases.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    return app


__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "create_app"]
