"""The seam between a registry and the policy: one typed value per decision.

A registry describes a version to the policy as a :class:`PolicyContext` — its label and
requested access, the reports it stored (as JSON), its parents as :class:`ParentRecord`s
and the quarantine reasons a reviewer waived — and reads back what it stored through
the typed views here (:class:`StoredFacts`, :class:`StoredDecision`), so a renamed key
is a change in this module rather than a silent ``None`` somewhere else. It also holds
the one rule both sides must apply alike: which base models an artifact declares
(:func:`declared_bases`), for the registry's lineage edges and for the policy's facts.
The policy layer never imports the registry; the registry builds these values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import ConfigDict

from weightwatch.artifacts.declared import ADAPTER_RELATION, DeclaredBases, declared_bases
from weightwatch.errors import UsageError
from weightwatch.policy.facts import ACCESS_ORDER, Access, WithdrawnMatch
from weightwatch.reports import Record

#: A waived quarantine reason, as the engine matches it: ``(rule_id, message)``.
Waiver: TypeAlias = tuple[str, str]

#: The relation an adapter's own config implies when its card names no base model.


def parse_access(value: str) -> Access:
    """``value`` as an access tier, or a ``UsageError`` naming the tiers there are."""
    for tier in ACCESS_ORDER:
        if value == tier:
            return tier
    raise UsageError(f"access must be one of {', '.join(ACCESS_ORDER)}, not {value!r}")


# -- views of stored reports ------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _section(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class StoredFacts:
    """What a child inherits from a version's stored ``Facts`` JSON: its licence, the
    licences it inherited itself, and its own training compute."""

    declared_license: str | None = None
    license_name: str | None = None
    inherited_licences: tuple[str, ...] = ()
    own_flop: float | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StoredFacts:
        subject = _section(doc, "subject")
        applicable = _section(doc, "licence").get("applicable") or []
        return cls(
            declared_license=_str(subject.get("declared_license")),
            license_name=_str(subject.get("license_name")),
            inherited_licences=tuple(
                str(s["licence"]) for s in applicable if isinstance(s, Mapping) and s.get("licence")
            ),
            own_flop=_number(_section(doc, "compute").get("own_flop")),
        )


def _waiver(reason: Mapping[str, Any]) -> Waiver:
    return str(reason["rule_id"]), str(reason["message"])


@dataclass(frozen=True)
class StoredDecision:
    """What the next decision builds on from a stored ``Decision`` JSON: the quarantine
    reasons already waived, and those it quarantined for (what a release waives)."""

    waived: tuple[Waiver, ...] = ()
    quarantined: tuple[Waiver, ...] = ()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StoredDecision:
        return cls(
            waived=tuple(_waiver(r) for r in doc.get("waived", [])),
            quarantined=tuple(
                _waiver(r) for r in doc.get("reasons", []) if r.get("action") == "quarantine"
            ),
        )


# -- parents and the context ------------------------------------------------------------


class ParentRecord(Record):
    """What a registry knows about a parent: its standing, licence and compute.

    ``kind`` says how the link was made (``declared`` by the card or ``detected`` from
    the weights); ``inherited_licences`` are licences the parent itself inherited, so
    obligations travel down a whole lineage; ``files`` lets Apache §4(d) see whether
    the parent shipped a NOTICE (``None``: not known).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    status: str = "published"
    access: str | None = None
    license: str | None = None
    license_name: str | None = None
    inherited_licences: tuple[str, ...] = ()
    training_compute_flop: float | None = None
    files: tuple[str, ...] | None = None
    kind: str | None = None
    relation: str | None = None
    score: float | None = None
    p_value: float | None = None

    @classmethod
    def from_stored(
        cls,
        *,
        name: str,
        status: str,
        access: str | None,
        kind: str | None,
        relation: str | None,
        score: float | None,
        p_value: float | None,
        facts: Mapping[str, Any] | None,
        files: Sequence[str],
    ) -> ParentRecord:
        """A registered parent: its edge and standing, plus what its stored facts and
        file list tell. A parent without stored facts (never decided) is described by
        its edge and standing alone, its files left unknown."""
        edge = cls(
            name=name,
            status=status,
            access=access,
            kind=kind,
            relation=relation,
            score=score,
            p_value=p_value,
        )
        if not facts:
            return edge
        stored = StoredFacts.from_json(facts)
        return edge.model_copy(
            update={
                "license": stored.declared_license,
                "license_name": stored.license_name,
                "inherited_licences": stored.inherited_licences,
                "training_compute_flop": stored.own_flop,
                "files": tuple(files) or None,
            }
        )


@dataclass(frozen=True)
class PolicyContext:
    """Everything a registry tells the policy about one version.

    ``scan`` is the stored ``ScanReport`` JSON, ``lineage`` the JSON of the detected
    lineage (``None`` when no search ran) and ``audit`` the stored audit summary; each is
    ``None`` when the registry has none. ``waive`` are the quarantine reasons a reviewer
    released, which the decision keeps but no longer counts. ``weights_inspectable``
    (``None``: not checked) and ``weights_problem`` say whether the fingerprinter could
    read the weights the files declare; ``withdrawn`` are the taken-down versions the
    weights matched at registration that are still taken down.
    """

    label: str  # namespace/name@number
    access: Access
    scan: Mapping[str, Any] | None = None
    lineage: Mapping[str, Any] | None = None
    audit: Mapping[str, Any] | None = None
    parents: tuple[ParentRecord, ...] = ()
    waive: tuple[Waiver, ...] = ()
    weights_inspectable: bool | None = None
    weights_problem: str | None = None
    withdrawn: tuple[WithdrawnMatch, ...] = ()
    forensics: Mapping[str, Any] | None = None  # the attached `weightwatch diff` summary

    @property
    def name(self) -> str:
        """The model's name without its version number, as facts name the subject."""
        return self.label.rsplit("@", 1)[0]


__all__ = [
    "ADAPTER_RELATION",
    "DeclaredBases",
    "ParentRecord",
    "PolicyContext",
    "StoredDecision",
    "StoredFacts",
    "Waiver",
    "declared_bases",
    "parse_access",
]
