"""weightwatch: safety infrastructure for open-weight model releases."""

from __future__ import annotations

__version__ = "0.1.0"
