"""AI bills of materials: CycloneDX 1.6 ML-BOM and SPDX 3.0.1 (AI profile) for a model
version, with pedigree from lineage detected in the weights, signed detached (DSSE).

Owns: the one ``BomSubject`` both formats render (``model``), gathering it from a
registry or a folder (``gather``), the two renderers with their official-schema checks
(``cyclonedx``, ``spdx``), the ``weightwatch:`` properties (``properties``), the
completeness score (``completeness``) and detached signatures (``signing``). Needs the
``[bom]`` extra (``cyclonedx-python-lib``, ``jsonschema``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from weightwatch import __version__
from weightwatch.bom.completeness import Completeness, completeness
from weightwatch.bom.model import BomParent, BomSubject
from weightwatch.bom.signing import sign_bom, verify_bom
from weightwatch.errors import UsageError

Format = Literal["cyclonedx", "spdx"]
FORMATS: tuple[Format, ...] = ("cyclonedx", "spdx")
MEDIA_TYPES = {"cyclonedx": "application/vnd.cyclonedx+json", "spdx": "application/spdx+json"}


def render(
    subject: BomSubject, fmt: str, *, download_location: str | None = None
) -> dict[str, Any]:
    """The BOM document in ``fmt``, already validated against the format's schema."""
    if fmt == "cyclonedx":
        from weightwatch.bom import cyclonedx

        return cyclonedx.render(subject, tool_version=__version__)
    if fmt == "spdx":
        from weightwatch.bom import spdx

        return spdx.render(subject, tool_version=__version__, download_location=download_location)
    raise UsageError(f"unknown BOM format {fmt!r}; choose from {', '.join(FORMATS)}")


def to_bytes(doc: dict[str, Any]) -> bytes:
    """The file form of a BOM (what a detached signature covers)."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def validate(doc: dict[str, Any], fmt: str) -> None:
    """Raise ``VerificationError`` unless ``doc`` is valid in ``fmt``."""
    if fmt == "cyclonedx":
        from weightwatch.bom import cyclonedx

        cyclonedx.validate(doc)
    elif fmt == "spdx":
        from weightwatch.bom import spdx

        spdx.validate(doc)
    else:
        raise UsageError(f"unknown BOM format {fmt!r}; choose from {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "BomParent",
    "BomSubject",
    "Completeness",
    "Format",
    "completeness",
    "render",
    "sign_bom",
    "to_bytes",
    "validate",
    "verify_bom",
]
