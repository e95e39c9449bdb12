"""The ``weightwatch:`` properties both formats carry for what neither standard has a
field for (scan verdict, weights digest, obligations, compute tier, decision,
watermarks, audit). One list, so CycloneDX properties and SPDX annotations agree."""

from __future__ import annotations

from weightwatch.bom.model import BomSubject


def _g(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.6g}"


def obligation_lines(subject: BomSubject) -> list[str]:
    """Each licence obligation, own or inherited along the lineage, as one line."""
    out = []
    for o in subject.facts.licence.obligations:
        how = "inherited via " + ", ".join(o.via) if o.inherited else "own"
        out.append(
            f"{o.licence} {o.clause} {o.obligation} ({o.severity}, {o.status}, "
            f"applies to {o.applies_to}, {how}): {o.text}"
        )
    return out


def subject_properties(s: BomSubject) -> list[tuple[str, str]]:
    f = s.facts
    props: list[tuple[str, str]] = [("weightwatch:source", s.source)]
    if s.weights_digest:
        props.append(("weightwatch:weights_digest", f"sha256:{s.weights_digest}"))
    if s.value_digest:
        props.append(("weightwatch:value_digest", f"sha256:{s.value_digest}"))
    if f.scan is not None:
        props.append(("weightwatch:scan:verdict", f.scan.verdict))
        props.append(("weightwatch:scan:findings", str(f.scan.total)))
        props += [("weightwatch:scan:rule", r) for r in f.scan.rule_ids]
        props += [("weightwatch:scan:unreadable", u) for u in f.scan.unreadable]
    c = f.compute
    props.append(("weightwatch:compute:total_parameters", str(c.total_parameters)))
    props.append(("weightwatch:compute:training_flop", _g(c.flop)))
    props.append(("weightwatch:compute:tier", c.tier or "none"))
    props += [
        (
            "weightwatch:compute:threshold",
            f"{t.name} {t.threshold_flop:.0e}: "
            + {True: "exceeded", False: "not exceeded", None: "unknown"}[t.exceeded],
        )
        for t in c.tiers
    ]
    if f.licence.declared:
        props.append(("weightwatch:licence:declared", f.licence.declared))
    if f.licence.commercial_use:
        props.append(("weightwatch:licence:commercial_use", f.licence.commercial_use))
    props += [("weightwatch:licence:obligation", line) for line in obligation_lines(s)]
    props += [
        ("weightwatch:licence:use_restriction", f"{u.licence} {u.clause}: {u.text}")
        for u in f.licence.use_restrictions
    ]
    props += [
        ("weightwatch:licence:conflict", f"{c2.licence} {c2.clause} via {c2.via}: {c2.text}")
        for c2 in f.licence.conflicts
    ]
    props.append(("weightwatch:lineage:checked_against_weights", str(f.lineage.checked).lower()))
    props += [("weightwatch:lineage:disagreement", d) for d in f.lineage.disagreements]
    if s.status:
        props.append(("weightwatch:registry:status", s.status))
    if s.decision:
        props.append(("weightwatch:registry:decision", s.decision))
    if s.signer_key_id:
        props.append(("weightwatch:registry:signing_key_id", s.signer_key_id))
    props += [("weightwatch:watermark:deployment", w) for w in s.watermarks]
    if s.audit:
        props.append(("weightwatch:audit:verdict", str(s.audit.get("verdict"))))
        props.append(("weightwatch:audit:base", str(s.audit.get("base"))))
        props.append(("weightwatch:audit:p_stripped", _g(s.audit.get("p_stripped"))))
    return props


__all__ = ["obligation_lines", "subject_properties"]
