"""Which licences bind a model, which obligations follow, and whether they are met.

A model is bound by the licence it declares *and* by every licence up its lineage: a
fine-tune of a Llama model owes Llama's obligations whatever its own card says, and a
grandchild owes them too (parents carry their own inherited licences forward). Own
licence: obligations that apply to any distribution. Inherited licence: those plus the
ones that apply to derivatives. The result is data for the policy, never a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from weightwatch.policy.licences import Catalogue, Licence
from weightwatch.policy.licences.checks import Distribution, Status, run_check
from weightwatch.reports import Record

COMMERCIAL_ORDER = ("allowed", "conditional", "forbidden")

# Declared uses (card tags, ``intended_use``) that fall in a restricted category.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "military": ("military", "warfare", "defense", "defence", "espionage"),
    "weapons": ("weapons", "weapon", "weapon-development", "firearms"),
    "critical-infrastructure": ("critical-infrastructure", "infrastructure-control"),
    "surveillance": ("surveillance", "mass-surveillance"),
    "medical-advice": ("medical-advice", "medical-diagnosis", "clinical-decision"),
    "law-enforcement": ("law-enforcement", "policing", "predictive-policing"),
    "commercial": ("commercial", "commercial-use", "production-use"),
}


class LicenceSource(Record):
    licence: str
    via: str  # "declared", "parent <name>", "ancestor via <name>", "base name <name>"
    inherited: bool


class ObligationResult(Record):
    licence: str
    obligation: str
    clause: str
    text: str
    severity: Literal["required", "advisory"]
    applies_to: Literal["distribution", "derivative"]
    inherited: bool
    via: list[str]
    status: Status
    detail: str


class LicenceConflict(Record):
    """The card declares a licence the inherited licence's terms do not allow."""

    licence: str
    via: str
    clause: str
    text: str
    declared: str | None
    accepted: list[str]


class UseRestrictionFact(Record):
    licence: str
    restriction: str
    clause: str
    text: str
    categories: list[str]
    inherited: bool


class UseConflict(Record):
    licence: str
    restriction: str
    clause: str
    category: str
    declared_use: str


class LicenceFacts(Record):
    declared: str | None  # the card's value (``license_name`` when ``license: other``)
    declared_id: str | None  # the catalogue id it resolves to
    recognised: bool
    applicable: list[LicenceSource]
    obligations: list[ObligationResult]
    unmet_required: int
    unmet_advisory: int
    conflicts: list[LicenceConflict]
    use_restrictions: list[UseRestrictionFact]
    use_conflicts: list[UseConflict]
    commercial_use: Literal["allowed", "conditional", "forbidden"] | None


@dataclass(frozen=True)
class ParentLicence:
    """What a parent's record says about licences: its own and those it inherited."""

    name: str
    license: str | None = None
    license_name: str | None = None
    inherited: tuple[str, ...] = ()


def _slug(text: str) -> str:
    return re.sub(r"[-_\s/]+", "-", text.strip().lower())


def use_conflicts(
    licence: Licence, declared_uses: Iterable[str]
) -> Iterable[tuple[str, str, str, str]]:
    uses = [(u, _slug(u)) for u in declared_uses if u.strip()]
    for r in licence.use_restrictions:
        for cat in r.categories:
            for kw in CATEGORY_KEYWORDS.get(cat, (cat,)):
                for raw, slug in uses:
                    if slug == kw or slug.startswith(f"{kw}-") or slug.endswith(f"-{kw}"):
                        yield r.id, r.clause, cat, raw


def assess(
    catalogue: Catalogue,
    dist: Distribution,
    *,
    license: str | None,
    license_name: str | None,
    parents: Sequence[ParentLicence] = (),
    declared_uses: Sequence[str] = (),
) -> LicenceFacts:
    """Every obligation that binds ``dist``, checked; conflicts and restrictions listed."""
    own = catalogue.resolve(license, license_name)
    declared = license_name if (license or "").lower() == "other" and license_name else license
    sources: list[LicenceSource] = []
    if own is not None:
        sources.append(LicenceSource(licence=own.id, via="declared", inherited=False))
    for p in parents:
        lic = catalogue.resolve(p.license, p.license_name)
        if lic is not None:
            sources.append(LicenceSource(licence=lic.id, via=f"parent {p.name}", inherited=True))
        elif p.license is None and p.license_name is None:
            by_name = catalogue.for_model(p.name)
            if by_name is not None:
                sources.append(
                    LicenceSource(licence=by_name.id, via=f"base name {p.name}", inherited=True)
                )
        for anc in p.inherited:
            if anc in catalogue:
                sources.append(
                    LicenceSource(licence=anc, via=f"ancestor via {p.name}", inherited=True)
                )
    results: dict[tuple[str, str], ObligationResult] = {}
    conflicts: list[LicenceConflict] = []
    restrictions: dict[tuple[str, str], UseRestrictionFact] = {}
    conflicts_of_use: dict[tuple[str, str, str], UseConflict] = {}
    declared_ids = {own.id} if own is not None else set()
    for src in sources:
        lic = catalogue[src.licence]
        for ob in lic.obligations:
            if ob.applies_to == "derivative" and not src.inherited:
                continue
            key = (lic.id, ob.id)
            if key in results:
                prev = results[key]
                results[key] = prev.model_copy(
                    update={
                        "via": [*prev.via, src.via],
                        "inherited": prev.inherited or src.inherited,
                    }
                )
                continue
            outcome = run_check(dist, ob.check)
            results[key] = ObligationResult(
                licence=lic.id,
                obligation=ob.id,
                clause=ob.clause,
                text=ob.text,
                severity=ob.severity,
                applies_to=ob.applies_to,
                inherited=src.inherited,
                via=[src.via],
                status=outcome.status,
                detail=outcome.detail,
            )
        follow = lic.terms_follow
        if (
            src.inherited
            and follow is not None
            and not (set(follow.accepted) & declared_ids)
            and not (license and license.lower() in follow.accepted)
            and all(c.licence != lic.id for c in conflicts)
        ):
            conflicts.append(
                LicenceConflict(
                    licence=lic.id,
                    via=src.via,
                    clause=follow.clause,
                    text=follow.text,
                    declared=declared,
                    accepted=list(follow.accepted),
                )
            )
        for r in lic.use_restrictions:
            restrictions.setdefault(
                (lic.id, r.id),
                UseRestrictionFact(
                    licence=lic.id,
                    restriction=r.id,
                    clause=r.clause,
                    text=r.text,
                    categories=list(r.categories),
                    inherited=src.inherited,
                ),
            )
        for rid, clause, cat, use in use_conflicts(lic, declared_uses):
            conflicts_of_use.setdefault(
                (lic.id, rid, use),
                UseConflict(
                    licence=lic.id, restriction=rid, clause=clause, category=cat, declared_use=use
                ),
            )
    obligations = sorted(results.values(), key=lambda r: (r.licence, r.obligation))
    commercial = [catalogue[s.licence].commercial_use for s in sources]
    return LicenceFacts(
        declared=declared,
        declared_id=own.id if own is not None else None,
        recognised=own is not None,
        applicable=sources,
        obligations=obligations,
        unmet_required=sum(
            1 for o in obligations if o.status == "unmet" and o.severity == "required"
        ),
        unmet_advisory=sum(
            1 for o in obligations if o.status == "unmet" and o.severity == "advisory"
        ),
        conflicts=conflicts,
        use_restrictions=sorted(restrictions.values(), key=lambda r: (r.licence, r.restriction)),
        use_conflicts=list(conflicts_of_use.values()),
        commercial_use=max(commercial, key=COMMERCIAL_ORDER.index) if commercial else None,
    )


__all__ = [
    "CATEGORY_KEYWORDS",
    "LicenceConflict",
    "LicenceFacts",
    "LicenceSource",
    "ObligationResult",
    "ParentLicence",
    "UseConflict",
    "UseRestrictionFact",
    "assess",
]
