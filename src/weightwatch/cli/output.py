"""Terminal output under the CLI's conventions: rich rendering without trailing spaces,
wrapped at the terminal's width (80 columns when not a terminal)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console

# Trailing blanks, possibly followed by style resets, before a line end.
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)(?=\n)")


class _StripTrailing:
    """A text stream that drops the blanks rich pads lines with."""

    def __init__(self, target: IO[str]) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(_TRAILING.sub(r"\1", text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) that writes no trailing spaces."""
    target = sys.stderr if stderr else sys.stdout
    return Console(file=_StripTrailing(target), stderr=stderr)  # type: ignore[arg-type]


Update = Callable[..., None]


@contextmanager
def progress(label: str, *, quiet: bool = False, total: float | None = None) -> Iterator[Update]:
    """A progress bar on stderr while the block runs: ``update(done, total=None,
    label=None)``. Nothing is drawn when stderr is not a terminal or ``quiet`` (--json),
    so pipes and logs stay clean; without a total it shows elapsed time only."""
    err = Console(file=_StripTrailing(sys.stderr), stderr=True)  # type: ignore[arg-type]
    if quiet or not err.is_terminal:
        yield lambda *args, **kwargs: None
        return
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(escape(label), total=total)

        def update(done: float, total: float | None = None, label: str | None = None) -> None:
            fields: dict[str, Any] = {"completed": done}
            if total is not None:
                fields["total"] = total
            if label is not None:
                fields["description"] = escape(label)
            bar.update(task, **fields)

        yield update


__all__ = ["console", "progress"]
