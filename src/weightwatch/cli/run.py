"""Running the root command and mapping every outcome to the exit-code table.

The library raises; this module prints one line (plus a hint where there is one) and
returns the code. Nothing here knows a command.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

import typer
from typer import _click as click  # Typer vendors its own click
from typer.core import TyperGroup as Group

from weightwatch.cli.app import (
    EXIT_ENVIRONMENT,
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
)
from weightwatch.errors import ServiceError, VerificationError, WeightwatchError

# OSErrors about a path the user named: input errors (2). Any other OSError (disk full,
# address in use, too many open files) is the environment's (3).
_INPUT_ERRNOS = {
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}


def _say(message: str) -> None:
    print(f"weightwatch: error: {message}", file=sys.stderr)


def exit_code_for(exc: BaseException) -> int:
    """The table's code for an exception the library or the environment raised."""
    if isinstance(exc, VerificationError):
        return EXIT_FINDINGS
    if isinstance(exc, ServiceError):
        return EXIT_ENVIRONMENT
    if isinstance(exc, WeightwatchError):
        return EXIT_ERROR
    if isinstance(exc, OSError):
        return EXIT_ERROR if exc.errno in _INPUT_ERRNOS else EXIT_ENVIRONMENT
    if isinstance(exc, ImportError):
        return EXIT_ENVIRONMENT
    if type(exc).__module__.startswith("sqlalchemy"):
        return EXIT_ENVIRONMENT
    return EXIT_ERROR


def describe(exc: BaseException) -> str:
    """One line (and a hint) for a human: the file and the problem, no internals."""
    if isinstance(exc, WeightwatchError):
        return exc.diagnostics()
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        what = exc.strerror or str(exc)
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        return f"{where}: {what}" if where else what
    if isinstance(exc, ImportError):
        return f"{exc} (is the extra that provides {exc.name or 'it'} installed?)"
    if type(exc).__module__.startswith("sqlalchemy"):
        orig = getattr(exc, "orig", None)
        return f"database: {orig or str(exc).splitlines()[0]}"
    return f"internal error: {type(exc).__name__}: {exc}"


def run(build: Callable[[], Group], argv: list[str]) -> int:
    """Build the root command and run it on ``argv``; the exit code per the table."""
    try:
        app = build()
        with app.make_context("weightwatch", list(argv)) as ctx:
            rv = app.invoke(ctx)
    except KeyboardInterrupt:
        print("weightwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("weightwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:  # usage errors: bad option, missing argument
        exc.show()
        return EXIT_ERROR
    except BrokenPipeError:  # `weightwatch … | head`: the reader left; not an error
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        _say(describe(exc))
        return exit_code_for(exc)
    return rv if isinstance(rv, int) else EXIT_OK


__all__ = ["describe", "exit_code_for", "run"]
