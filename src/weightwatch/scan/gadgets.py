"""Placeholder until the sweep writes the table."""

from __future__ import annotations

SWEPT: dict[str, str] = {}
GADGETS: dict[str, str] = {}
REDUCE_REBUILT: frozenset[str] = frozenset()
COMPILED_MODULES: frozenset[str] = frozenset()
