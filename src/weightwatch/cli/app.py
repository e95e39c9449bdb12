"""The root of the ``weightwatch`` command: the app, ``--version``, lazy command loading
and the one exit-code table.

This module knows no command by its code. ``weightwatch.cli.COMMANDS`` names each command,
the module that defines it and its one-line summary; :class:`LazyGroup` imports a
command's module only when that command runs or its own help is asked for, so
``weightwatch --help`` and ``--version`` start as fast as the CLI framework itself.
Each command module exposes ``register(app)`` and imports from here, never the other
way round, and no app is global.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from weightwatch import __version__

# The exit-code table (docs/cli.md); every command uses it.
EXIT_OK = 0  # done; nothing found that the user asked to fail on
EXIT_FINDINGS = 1  # a finding or verdict the user asked to fail on (tampered, derived, ...)
EXIT_ERROR = 2  # usage or input error: bad option, unreadable or invalid file
EXIT_ENVIRONMENT = 3  # environment or service error: database, port, disk, missing extra
EXIT_INTERRUPTED = 130  # interrupted (Ctrl-C or SIGTERM)

EXIT_CODES: Mapping[int, str] = {
    EXIT_OK: "ok",
    EXIT_FINDINGS: "a finding or verdict the user asked to fail on",
    EXIT_ERROR: "usage or input error",
    EXIT_ENVIRONMENT: "environment or service error",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 80,
    "show_default": True,
}


def typer_app(**kwargs: Any) -> typer.Typer:
    """A Typer app (group) under the CLI's conventions: plain help text that fits 80
    columns (no boxes, no trailing spaces, no type tags), ``-h``, defaults shown."""
    kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
    return typer.Typer(
        rich_markup_mode=None,
        add_completion=False,
        pretty_exceptions_enable=False,
        **kwargs,
    )


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


__all__ = [
    "CONTEXT_SETTINGS",
    "EXIT_CODES",
    "EXIT_ENVIRONMENT",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "typer_app",
]
