"""The ``weightwatch`` command: parse, call the library, render.

The CLI holds no logic the library lacks. It maps outcomes to exit codes so it can
gate CI pipelines and pre-commit hooks: 0 ok/clean, 1 findings at or above
``--fail-on``, 2 usage or input error (one line naming the file and the problem).
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Annotated

import typer

from weightwatch import __version__
from weightwatch.errors import WeightwatchError

COMMAND_MODULES = (
    "inspect_cmd",
    "hash_cmd",
    "attest_cmd",
    "log_cmd",
    "scan_cmd",
    "lineage_cmd",
    "registry_cmd",
    "policy_cmd",
    "serve_cmd",
    "audit_cmd",
    "watermark_cmd",
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="weightwatch",
    help="Safety infrastructure for open-weight model releases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"weightwatch {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Safety infrastructure for open-weight model releases."""


@functools.cache
def _register_commands() -> None:
    # Each command module adds itself to ``app``; importing them here keeps the
    # command list in one place without a dispatcher.
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"weightwatch.cli.{name}")
        if hasattr(module, "register"):  # command groups attach themselves once
            module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn library errors into one-line messages."""
    _register_commands()
    try:
        # With standalone_mode off, click returns typer.Exit codes instead of exiting.
        rv = app(args=argv, standalone_mode=False)
    except WeightwatchError as exc:
        print(f"weightwatch: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("weightwatch: aborted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # usage errors from (typer's vendored) click, or a bug
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            return EXIT_ERROR
        print(f"weightwatch: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return rv if isinstance(rv, int) else EXIT_OK
