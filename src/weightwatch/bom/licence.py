"""Licence identifiers as BOMs want them: an SPDX id where the SPDX list has one (the
check is ``cyclonedx-python-lib``'s copy of the SPDX licence list), else a
``LicenseRef-`` of the declared id (e.g. ``llama3``, which SPDX does not list)."""

from __future__ import annotations

import re

from cyclonedx.spdx import fixup_id


def spdx_id(declared: str | None) -> str | None:
    """The SPDX licence id for a card's ``license:`` value, or None if SPDX has none."""
    if not declared:
        return None
    return fixup_id(declared.strip())


def licence_ref(declared: str) -> str:
    """An SPDX ``LicenseRef-`` for a licence SPDX does not list."""
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.\-]+", "-", declared.strip()).strip("-") or "x")


def expression(declared: str) -> str:
    """An SPDX licence expression for ``declared``: its SPDX id, else its LicenseRef."""
    return spdx_id(declared) or licence_ref(declared)


__all__ = ["expression", "licence_ref", "spdx_id"]
