"""``weightwatch fingerprint`` and ``weightwatch lineage`` (being built)."""

from __future__ import annotations
