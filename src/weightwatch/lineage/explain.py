"""From the nearest registered models to a verdict: which parents, which relation.

A derivative matches its parent and, more weakly, the parent's whole family; a merge of
two unrelated bases matches both. So: the best significant match is a parent; another
significant match is a second parent only if it is itself unrelated to the first
(otherwise it is family of the first, not a separate origin) — then the relation is
``merge``. p-values are Bonferroni-adjusted for the number of models searched. A model
that is a copy of another registered one (identical or quantized) gives way to the
original as the named parent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from weightwatch.lineage.index import FingerprintIndex, Match
from weightwatch.lineage.pvalue import log10_adjusted, p_from_log10
from weightwatch.lineage.relation import Comparison, Nulls, compare
from weightwatch.reports import Record, Report


class Parent(Record):
    name: str
    relation: str
    score: float
    p_value: float  # adjusted for the number of models searched; floored at 2.2e-308
    log10_p: float  # the same, exact


class Lineage(Report):
    """The detected origin of one model, against an index; stable JSON form."""

    verdict: str  # "derived" | "unrelated"
    relation: str  # finetune / quantized / merge / identical / unrelated
    parents: list[Parent]
    searched: int
    matches: list[Comparison]
    disagreements: list[str]


def explain(
    matches: list[Match],
    index: FingerprintIndex,
    *,
    alpha: float = 1e-3,
    nulls: Nulls | None = None,
    originals: Mapping[str, str] | None = None,
) -> Lineage:
    """``originals`` maps a registered model to the one it is an identical or quantized
    copy of: a derivative of a copy looks like a derivative of the original (the copy
    adds nothing), so when both match, the original is named as the parent."""
    n = max(1, len(index))
    adjusted = [(m, log10_adjusted(m.comparison.log10_p, n)) for m in matches]
    significant = [(m, p) for m, p in adjusted if p < math.log10(alpha)]
    comparisons = [m.comparison for m in matches]
    if not significant:
        return Lineage(
            verdict="unrelated",
            relation="unrelated",
            parents=[],
            searched=n,
            matches=comparisons,
            disagreements=[],
        )
    best, best_p = significant[0]
    by_name = {m.name: (m, p) for m, p in significant}
    seen = {best.name}
    while originals and (origin := originals.get(best.name)) in by_name and origin not in seen:
        best, best_p = by_name[origin]
        seen.add(origin)
    parents = [
        Parent(
            name=best.name,
            relation=best.comparison.relation,
            score=best.comparison.score,
            p_value=p_from_log10(best_p),
            log10_p=best_p,
        )
    ]
    best_fp = index.fingerprint(best.id)
    for other, p in significant:
        if other.name == best.name:
            continue
        other_fp = index.fingerprint(other.id)
        if best_fp is None or other_fp is None:
            continue
        if compare(best_fp, other_fp, nulls=nulls, alpha=alpha / n).verdict == "unrelated":
            parents.append(
                Parent(
                    name=other.name,
                    relation="merge",
                    score=other.comparison.score,
                    p_value=p_from_log10(p),
                    log10_p=p,
                )
            )
    relation = "merge" if len(parents) > 1 else parents[0].relation
    if relation == "merge":
        parents = [p.model_copy(update={"relation": "merge"}) for p in parents]
    disagreements = list(best.comparison.disagreements)
    declared = best.comparison.declared_base_model
    if relation == "merge" and declared:
        missing = [p.name for p in parents if p.name not in declared]
        if missing:
            disagreements.append(f"merge of {[p.name for p in parents]}; card omits {missing}")
    return Lineage(
        verdict="derived",
        relation=relation,
        parents=parents,
        searched=n,
        matches=comparisons,
        disagreements=disagreements,
    )
