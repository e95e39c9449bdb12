"""What a BOM says about one model version, as one typed value both formats render.

``BomSubject`` is gathered once (from a registry version or a local folder, see
``gather.py``) and then rendered by ``cyclonedx.py`` and ``spdx.py``; the completeness
score (``completeness.py``) reads the same value, so the two formats cannot disagree
about what is known.
"""

from __future__ import annotations

from typing import Any, Literal

from weightwatch.policy.facts import Facts
from weightwatch.reports import Record, Report

#: Where a parent in the pedigree comes from: the weights matched it (a p-value under
#: the lineage test), the card declares it, or both.
Evidence = Literal["verified-from-weights", "declared", "declared+verified-from-weights"]
Source = Literal["registry", "path", "card"]


class BomFile(Record):
    path: str
    size: int
    sha256: str


class BomParent(Record):
    """One parent of the model: its name, relation and the evidence for it."""

    name: str  # namespace/name@number for a registered parent, else the card's id
    relation: str | None
    p_value: float | None  # lineage test p-value; None when only declared
    score: float | None
    evidence: Evidence
    licence: str | None


class BomSubject(Report):
    """Everything a BOM records about one version. ``facts`` is the policy's view of the
    artifact (licence, obligations, compute, card, scan, lineage, audit)."""

    source: Source
    name: str  # namespace/name, or the folder name for a local path
    version: str  # the registry version number, or "local"
    created: str  # ISO 8601 UTC: when the version was registered (stable per version)
    files: list[BomFile]
    weights_digest: str | None
    value_digest: str | None
    facts: Facts
    parents: list[BomParent]
    status: str | None  # registry status (published, gated, ...); None for a path
    decision: str | None  # the policy action with its rule ids, e.g. "gate [lineage-…]"
    audit: dict[str, Any] | None  # the base-vs-derivative summary the registry keeps
    watermarks: list[str]  # "deployment (scheme): key id"
    signer_key_id: str | None  # the key the registry signed the version's manifest with

    @property
    def label(self) -> str:
        return self.name if self.source != "registry" else f"{self.name}@{self.version}"


def evidence_of(declared: bool, detected: bool) -> Evidence:
    if detected and declared:
        return "declared+verified-from-weights"
    return "verified-from-weights" if detected else "declared"


def parents_from(facts: Facts) -> list[BomParent]:
    """The pedigree from the policy's lineage facts: every detected or declared parent."""
    return [
        BomParent(
            name=p.name,
            relation=p.relation or (facts.subject.declared_relation if p.declared else None),
            p_value=p.p_value if p.detected else None,
            score=p.score if p.detected else None,
            evidence=evidence_of(p.declared, p.detected),
            licence=p.license,
        )
        for p in facts.lineage.parents
    ]


__all__ = ["BomFile", "BomParent", "BomSubject", "Evidence", "evidence_of", "parents_from"]
