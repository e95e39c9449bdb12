"""The ``weightwatch`` command: parse, call the library, render.

The CLI holds no logic the library lacks. It maps outcomes to exit codes so it can
gate CI pipelines and pre-commit hooks: 0 ok/clean, 1 findings at or above
``--fail-on``, 2 usage or input error (one line naming the file and the problem).

Commands live in ``*_cmd`` modules, each with ``register(app)``; ``COMMAND_MODULES``
below is the one list of them. A new command is a new module plus one entry there.
"""

from __future__ import annotations

import sys
from typing import Protocol

import typer

from weightwatch.cli import (
    attest_cmd,
    audit_cmd,
    hash_cmd,
    inspect_cmd,
    lineage_cmd,
    log_cmd,
    policy_cmd,
    recall_cmd,
    registry_cmd,
    scan_cmd,
    serve_cmd,
    watermark_cmd,
)
from weightwatch.cli.app import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, create_app
from weightwatch.errors import WeightwatchError


class CommandModule(Protocol):
    """What a command module provides: a function that attaches its commands."""

    def register(self, app: typer.Typer) -> None: ...


# In the order ``weightwatch --help`` lists them.
COMMAND_MODULES: tuple[CommandModule, ...] = (
    inspect_cmd,
    hash_cmd,
    attest_cmd,
    log_cmd,
    scan_cmd,
    lineage_cmd,
    registry_cmd,
    recall_cmd,
    policy_cmd,
    serve_cmd,
    audit_cmd,
    watermark_cmd,
)


def build_app() -> typer.Typer:
    """A new root app with every command attached."""
    app = create_app()
    for module in COMMAND_MODULES:
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn library errors into one-line messages."""
    app = build_app()
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


__all__ = [
    "COMMAND_MODULES",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "build_app",
    "main",
]
