"""Bounds on the numbers a request may carry: every id, index, offset and version number
fits the tables' INTEGER columns (32-bit on PostgreSQL, which is what the fuzzing found
first), so a huge value is a 422 (or a 404 page) at the edge, never an overflow inside a
query (a 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: the largest row id, log index or version number both SQLite and PostgreSQL store
ROW_MAX = 2**31 - 1

RowId = Annotated[int, Path(ge=0, le=ROW_MAX)]


def in_range(value: int | None) -> bool:
    """Whether ``value`` (if any) can be looked up at all."""
    return value is None or 0 <= value <= ROW_MAX
