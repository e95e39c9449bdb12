"""Facts: everything a policy decision may look at, as one immutable value.

Facts are computed once (``weightwatch.policy.build``) and then judged by any number of
policies; a decision records the digest of the facts it judged, so a logged decision can
be re-checked against the same facts later. Policy rules address facts by dotted path
(``scan.counts.critical``, ``lineage.parents``), so field names here are part of the
policy language: rename one only with a schema_version bump.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field

from weightwatch.policy.card import CardFacts
from weightwatch.policy.compute import ComputeEstimate
from weightwatch.policy.licences.obligations import LicenceFacts
from weightwatch.reports import SCHEMA_VERSION, Record, Report

Access = Literal["public", "gated", "restricted"]
ACCESS_ORDER: tuple[Access, ...] = ("public", "gated", "restricted")
SEVERITIES = ("info", "low", "medium", "high", "critical")


class SubjectFacts(Record):
    name: str | None  # registry name, card ``model_name`` or heading, or folder name
    family: str | None
    access: Access  # the tier the publisher asked for
    declared_license: str | None
    license_name: str | None
    declared_base_models: list[str]
    declared_relation: str | None
    is_adapter: bool
    files: int
    problems: list[str]  # metadata the artifact layer could not parse


class FindingFact(Record):
    rule_id: str
    severity: str
    file: str
    title: str


class ScanFacts(Record):
    verdict: str  # clean | suspicious | malicious | error
    max_severity: str | None
    counts: dict[str, int]  # every severity, zero included
    total: int
    rule_ids: list[str]
    findings: list[FindingFact]  # worst first, at most MAX_FINDINGS
    unreadable: list[str]  # files the scanner could not fully read


class ParentFacts(Record):
    name: str
    relation: str | None
    score: float | None
    p_value: float | None
    declared: bool  # the card names it as base_model
    detected: bool  # the weights match it
    license: str | None
    status: str | None  # published, gated, restricted, quarantined, taken_down, blocked
    access: str | None


class LineageFacts(Record):
    checked: bool  # a lineage search ran (otherwise detected parents are unknown)
    is_derivative: bool
    relation: str | None
    parents: list[ParentFacts]
    undeclared: list[str]  # detected parents the card does not declare
    declared_not_detected: list[str]  # declared, registered, but not matched by weights
    disagreements: list[str]


class AuditFacts(Record):
    verdict: str  # stripped | equivalent | improved | over_refusing | inconclusive
    base: str | None
    p_stripped: float | None
    over_refusal_verdict: str | None
    logged: bool = False  # a signed audit, appended to the registry's transparency log


class ForensicsFacts(Record):
    """What ``weightwatch diff`` read from the weight difference to a base (attached with
    ``registry forensics``): the derivation and the abliteration score."""

    derivation: str  # identical | abliterated | quantized | lora | sparse | full_finetune | mixed
    base: str | None
    abliteration_score: float
    direction_consistency: float | None


class WithdrawnMatch(Record):
    """A taken-down version the registered weights copy or derive from (any namespace)."""

    version: str  # the withdrawn version, namespace/name@number
    relation: str  # identical, quantized, finetune, … (from lineage), or "same weights digest"
    score: float | None
    p_value: float | None
    reason: str  # the takedown's reason


class Facts(Report):
    subject: SubjectFacts
    scan: ScanFacts | None
    lineage: LineageFacts
    compute: ComputeEstimate
    licence: LicenceFacts
    card: CardFacts
    audit: AuditFacts | None
    # None: not checked (no registry fingerprint step ran); False: the files declare a
    # model whose weights could not be read, ``weights_problem`` says which file and why
    weights_inspectable: bool | None = None
    weights_problem: str | None = None
    withdrawn_match: list[WithdrawnMatch] = Field(default_factory=list)
    forensics: ForensicsFacts | None = None

    def canonical(self) -> bytes:
        """The one serialization the digest covers (``canonical_json``)."""
        return self.canonical_json()

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()


__all__ = [
    "ACCESS_ORDER",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Access",
    "AuditFacts",
    "Facts",
    "FindingFact",
    "LineageFacts",
    "ParentFacts",
    "ScanFacts",
    "SubjectFacts",
    "WithdrawnMatch",
]
