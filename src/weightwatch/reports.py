"""The base of every report: an immutable value with one stable JSON form.

A report's JSON is a contract — printed by ``--json``, stored by the registry, hashed into
decisions and signed in manifests — so its keys, their order and its ``schema_version``
change only together, and every report type has a golden file (``tests/goldens/``) that
turns a change into a visible diff in review. This module imports nothing of weightwatch,
so any layer (the registry included) can build on it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

#: The version every report type starts at; a type that changes its form bumps its own.
SCHEMA_VERSION = "1"


class Record(BaseModel):
    """An immutable part of a report (a finding, a file entry): frozen, equal by value."""

    model_config = ConfigDict(frozen=True)


class Report(Record):
    """A top-level report; ``schema_version`` is always its first JSON key.

    A type bumps its version by redeclaring the field (``schema_version: str = "2"``),
    which keeps the key first. ``to_json`` is the JSON form; a subclass may add derived
    keys (a verdict) or leave out empty ones, and ``canonical_json`` follows it.
    """

    schema_version: str = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The JSON form, as plain values."""
        return self.model_dump(mode="json")

    def canonical_json(self) -> bytes:
        """Sorted keys, no whitespace, UTF-8: the one serialization that is hashed or signed."""
        return json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


__all__ = ["SCHEMA_VERSION", "Record", "Report"]
