"""How complete a BOM is: the share of documented fields it fills (``docs/bom.md``).

Each field says whether a generator that reads only the model card (README front
matter and sections, as Hub-derived AI-BOMs do) could fill it, so the same table gives
the card-alone baseline the benchmark compares against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from weightwatch.bom.licence import spdx_id
from weightwatch.bom.model import BomSubject
from weightwatch.reports import Record, Report


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    from_card: bool  # a card-only generator can fill it
    present: Callable[[BomSubject], bool]


def _card(item: str) -> Callable[[BomSubject], bool]:
    def present(s: BomSubject) -> bool:
        return any(i.id == item and i.present for i in s.facts.card.items)

    return present


FIELDS: tuple[Field, ...] = (
    Field("name", "model name", True, lambda s: bool(s.name)),
    Field("licence", "declared licence", True, lambda s: bool(s.facts.licence.declared)),
    Field(
        "licence_spdx",
        "licence as an SPDX id",
        True,
        lambda s: spdx_id(s.facts.licence.declared) is not None,
    ),
    Field(
        "obligations",
        "licence obligations (own and inherited)",
        False,
        lambda s: s.facts.licence.recognised,
    ),
    Field(
        "pedigree",
        "parents (or that there are none)",
        True,
        lambda s: bool(s.parents) or s.facts.lineage.checked,
    ),
    Field(
        "pedigree_verified",
        "pedigree checked against the weights",
        False,
        lambda s: s.facts.lineage.checked,
    ),
    Field("architecture", "architecture family", False, lambda s: bool(s.facts.subject.family)),
    Field(
        "file_hashes",
        "SHA-256 of every file",
        False,
        lambda s: bool(s.files) and all(f.sha256 for f in s.files),
    ),
    Field(
        "weights_digest", "format-invariant weights digest", False, lambda s: bool(s.weights_digest)
    ),
    Field("scan", "serialization scan verdict", False, lambda s: s.facts.scan is not None),
    Field(
        "parameters",
        "parameter count",
        False,
        lambda s: s.facts.compute.total_parameters is not None,
    ),
    Field(
        "compute_tier",
        "training compute estimate and tier",
        False,
        lambda s: s.facts.compute.flop is not None,
    ),
    Field("intended_use", "intended use", True, _card("intended_use")),
    Field("limitations", "limitations and risks", True, _card("limitations")),
    Field("training_data", "training data summary", True, _card("training_data")),
    Field("evaluation", "evaluation", True, _card("evaluation")),
    Field("audit", "safety audit results", False, lambda s: s.audit is not None),
    Field("watermarks", "watermarked deployments", False, lambda s: bool(s.watermarks)),
    Field("decision", "policy decision", False, lambda s: s.decision is not None),
    Field("signature", "signed by the registry", False, lambda s: s.signer_key_id is not None),
)


class FieldScore(Record):
    id: str
    label: str
    present: bool


class Completeness(Report):
    """Filled fields over documented fields; ``card_only`` scores what the card alone gives."""

    card_only: bool
    score: float
    filled: int
    total: int
    fields: list[FieldScore]


def completeness(subject: BomSubject, *, card_only: bool = False) -> Completeness:
    rows = [
        FieldScore(
            id=f.id,
            label=f.label,
            present=(f.from_card or not card_only) and bool(_card_view(subject, f, card_only)),
        )
        for f in FIELDS
    ]
    filled = sum(r.present for r in rows)
    return Completeness(
        card_only=card_only,
        score=round(filled / len(rows), 4),
        filled=filled,
        total=len(rows),
        fields=rows,
    )


def _card_view(subject: BomSubject, f: Field, card_only: bool) -> bool:
    """Whether ``f`` is filled; with ``card_only`` the pedigree counts only what the card
    declares (a card cannot say that a weights search found no parent)."""
    if card_only and f.id == "pedigree":
        return bool(subject.facts.subject.declared_base_models)
    return f.present(subject)


__all__ = ["FIELDS", "Completeness", "FieldScore", "completeness"]
