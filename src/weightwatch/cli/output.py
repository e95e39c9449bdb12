"""Terminal output under the CLI's conventions: rich rendering without trailing spaces,
wrapped at the terminal's width (80 columns when not a terminal)."""

from __future__ import annotations

import re
import sys
from typing import IO

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


__all__ = ["console"]
