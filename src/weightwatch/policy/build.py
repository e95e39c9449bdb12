"""Building facts from an opened artifact and whatever reports the caller already has.

Pure over values: the artifact (already opened), a scan report, a lineage result,
parent records from a registry, an audit summary. The only reads are the small licence
and notice files of the artifact itself, which licence checks need. Reports are
accepted as their typed models or as their JSON form, since a registry keeps JSON; a
registry's version comes as one ``PolicyContext`` (``context_facts``). Declared base
models follow ``context.declared_bases``, the rule the registry's lineage edges use too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from weightwatch.artifacts import Artifact
from weightwatch.artifacts.declared import declared_licence
from weightwatch.errors import ArtifactError
from weightwatch.lineage.relation import UNDECLARED
from weightwatch.policy import compute as comp
from weightwatch.policy.card import DEFAULT_CHECKLIST, CardCheck, check_card
from weightwatch.policy.context import ParentRecord, PolicyContext, declared_bases, parse_access
from weightwatch.policy.facts import (
    SEVERITIES,
    Access,
    AuditFacts,
    Facts,
    FindingFact,
    ForensicsFacts,
    LineageFacts,
    ParentFacts,
    ScanFacts,
    SubjectFacts,
    WithdrawnMatch,
)
from weightwatch.policy.known_models import known_tokens
from weightwatch.policy.licences import Catalogue, load_catalogue
from weightwatch.policy.licences.checks import Distribution
from weightwatch.policy.licences.obligations import ParentLicence, assess

MAX_FINDINGS = 25
MAX_TEXT = 1024 * 1024
_LICENCE_FILE = re.compile(r"^(licen[cs]e|notice|copying|use_policy|terms)|licen[cs]e", re.I)


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return load_catalogue()


@dataclass(frozen=True)
class FactsConfig:
    """The settings facts depend on: compute tiers, card checklist, licence catalogue."""

    tiers: Mapping[str, float] = field(default_factory=lambda: dict(comp.DEFAULT_TIERS))
    checklist: tuple[CardCheck, ...] = DEFAULT_CHECKLIST
    catalogue: Catalogue | None = None

    def licences(self) -> Catalogue:
        return self.catalogue if self.catalogue is not None else default_catalogue()


def _as_dict(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        if hasattr(value, "to_json"):
            out = value.to_json()
            if isinstance(out, dict):
                return out
        return value.model_dump(mode="json")
    return dict(value)


def _base(name: str) -> str:
    return name.split("@", 1)[0]


# -- scan ------------------------------------------------------------------------------


def scan_facts(report: BaseModel | Mapping[str, Any]) -> ScanFacts:
    """Summary of a ``ScanReport`` (or its JSON): counts per severity, worst findings."""
    doc = _as_dict(report) or {}
    counts = dict.fromkeys(SEVERITIES, 0)
    findings: list[FindingFact] = []
    unreadable: list[str] = []
    worst_rank = -1
    for fr in doc.get("files", []):
        if fr.get("error"):
            unreadable.append(str(fr.get("path")))
        for f in fr.get("findings", []):
            sev = str(f.get("severity"))
            counts[sev] = counts.get(sev, 0) + 1
            if sev in SEVERITIES:
                worst_rank = max(worst_rank, SEVERITIES.index(sev))
            loc = f.get("location") or {}
            findings.append(
                FindingFact(
                    rule_id=str(f.get("rule_id")),
                    severity=sev,
                    file=str(loc.get("file", fr.get("path"))),
                    title=str(f.get("title", "")),
                )
            )
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (-rank.get(f.severity, -1), f.file, f.rule_id))
    verdict = doc.get("verdict") or _verdict(counts, bool(unreadable))
    return ScanFacts(
        verdict=str(verdict),
        max_severity=SEVERITIES[worst_rank] if worst_rank >= 0 else None,
        counts=counts,
        total=len(findings),
        rule_ids=sorted({f.rule_id for f in findings}),
        findings=findings[:MAX_FINDINGS],
        unreadable=unreadable,
    )


def _verdict(counts: Mapping[str, int], unreadable: bool) -> str:
    """The scanner's rule, for JSON without a verdict: high+ malicious, medium suspicious."""
    if counts.get("high", 0) or counts.get("critical", 0):
        return "malicious"
    if unreadable:
        return "error"
    return "suspicious" if counts.get("medium", 0) else "clean"


# -- lineage ---------------------------------------------------------------------------


def lineage_facts(
    *,
    declared: Sequence[str],
    lineage: BaseModel | Mapping[str, Any] | None,
    parents: Sequence[ParentRecord],
    is_adapter: bool = False,
) -> LineageFacts:
    """Merge detected parents, registry records and the declared base models
    (``declared_bases``: the card's, else an adapter's own base)."""
    doc = _as_dict(lineage)
    declared_keys = {_base(d) for d in declared}
    records = {_base(p.name): p for p in parents}
    merged: dict[str, dict[str, Any]] = {}
    for p in (doc or {}).get("parents", []):
        key = _base(str(p["name"]))
        merged[key] = {
            "name": str(p["name"]),
            "relation": p.get("relation"),
            "score": p.get("score"),
            "p_value": p.get("p_value"),
            "detected": True,
        }
    for key, record in records.items():
        entry = merged.setdefault(key, {"name": record.name, "detected": record.kind == "detected"})
        for k in ("relation", "score", "p_value"):
            if entry.get(k) is None and getattr(record, k) is not None:
                entry[k] = getattr(record, k)
    for d in declared:
        merged.setdefault(_base(d), {"name": d, "detected": False})
    out: list[ParentFacts] = []
    for key, e in merged.items():
        rec = records.get(key)
        out.append(
            ParentFacts(
                name=e["name"],
                relation=e.get("relation"),
                score=e.get("score"),
                p_value=e.get("p_value"),
                declared=key in declared_keys,
                detected=bool(e.get("detected")),
                license=(rec.license_name if rec and rec.license == "other" else None)
                or (rec.license if rec else None),
                status=rec.status if rec else None,
                access=rec.access if rec else None,
            )
        )
    checked = doc is not None
    undeclared = [p.name for p in out if p.detected and not p.declared]
    declared_not_detected = [
        p.name
        for p in out
        if checked and p.declared and not p.detected and _base(p.name) in records
    ]
    relation = (doc or {}).get("relation") if checked else None
    if relation in (None, "unrelated") and out:
        relation = next((p.relation for p in out if p.relation), None)
    return LineageFacts(
        checked=checked,
        is_derivative=bool(out) or is_adapter,
        relation=relation if relation != "unrelated" else None,
        parents=sorted(out, key=lambda p: p.name),
        undeclared=sorted(undeclared),
        declared_not_detected=sorted(declared_not_detected),
        # An undeclared parent is the ``lineage-undeclared`` fact; the same finding worded
        # as a card disagreement would also fire ``lineage-misdeclared`` for it.
        disagreements=[
            str(d)
            for d in (doc or {}).get("disagreements", [])
            if not (undeclared and UNDECLARED in str(d))
        ],
    )


# -- compute, distribution -------------------------------------------------------------


def _params(artifact: Artifact) -> tuple[comp.ParamCount | None, str]:
    cfg = artifact.config
    raw = cfg.raw if cfg else {}
    gguf = artifact.gguf_metadata or {}
    arch = str(gguf.get("general.architecture", ""))
    experts = (cfg.num_experts if cfg else None) or _int(gguf.get(f"{arch}.expert_count"))
    k = (cfg.experts_per_token if cfg else None) or _int(gguf.get(f"{arch}.expert_used_count"))
    qc = raw.get("quantization_config")
    bits = _int(qc.get("bits")) if isinstance(qc, Mapping) else None
    if artifact.primary_files:
        try:
            kept, _ = artifact.canonical_tensors
        except ArtifactError:
            kept = ()
        if kept:
            triples = [(t.name, t.info.numel, t.dtype) for t in kept]
            count = comp.count_parameters(
                triples, num_experts=experts, experts_per_token=k, quant_bits=bits
            )
            return count, "weights"
    if raw:
        return comp.params_from_config(raw), "config"
    return None, "none"


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _name(artifact: Artifact, name: str | None) -> str | None:
    if name:
        return name
    card = artifact.card
    if card is not None:
        model_name = card.front_matter.get("model_name")
        if isinstance(model_name, str) and model_name.strip():
            return model_name.strip()
        m = re.search(r"^#\s+(\S.*?)\s*$", card.body, re.M)
        if m:
            return m.group(1)
    return artifact.root.name or None


def _texts(artifact: Artifact) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in artifact.files:
        if not _LICENCE_FILE.search(Path(f.path).name) or f.size > MAX_TEXT:
            continue
        path = artifact.root / f.path if artifact.is_dir else artifact.root
        try:
            if path.is_symlink():
                continue
            out[f.path] = path.read_bytes()[:MAX_TEXT].decode("utf-8", "replace")
        except OSError:
            continue
    return out


def _declared_uses(
    front: Mapping[str, Any], tags: Sequence[str], pipeline: str | None
) -> list[str]:
    uses = [*tags, *([pipeline] if pipeline else [])]
    for key in ("intended_use", "intended_uses", "use_cases", "use_case"):
        v = front.get(key)
        if isinstance(v, str):
            uses.append(v)
        elif isinstance(v, list):
            uses += [str(x) for x in v if isinstance(x, str)]
    return uses


# -- everything ------------------------------------------------------------------------


def build_facts(
    artifact: Artifact,
    *,
    name: str | None = None,
    access: Access = "public",
    scan: BaseModel | Mapping[str, Any] | None = None,
    lineage: BaseModel | Mapping[str, Any] | None = None,
    parents: Sequence[ParentRecord | Mapping[str, Any]] = (),
    audit: BaseModel | Mapping[str, Any] | None = None,
    config: FactsConfig | None = None,
    weights_inspectable: bool | None = None,
    weights_problem: str | None = None,
    withdrawn: Sequence[WithdrawnMatch] = (),
    forensics: Mapping[str, Any] | None = None,
) -> Facts:
    """Facts for one artifact. Leave out what you do not have: no scan report means
    ``facts.scan`` is None (a policy can require one), no lineage means no detected
    parents (declared ones still count)."""
    access = parse_access(access)
    config = config or FactsConfig()
    records = [
        p if isinstance(p, ParentRecord) else ParentRecord.model_validate(p) for p in parents
    ]
    card = artifact.card
    front = card.front_matter if card else {}
    bases = declared_bases(artifact)
    declared = list(bases.names)
    is_adapter = artifact.adapter is not None
    lin = lineage_facts(declared=declared, lineage=lineage, parents=records, is_adapter=is_adapter)
    model_name = _name(artifact, name)

    params, source = _params(artifact)
    raw_cfg = artifact.config.raw if artifact.config else {}
    derivative = lin.is_derivative
    base_flops = [r.training_compute_flop for r in records if r.training_compute_flop]
    notes: list[str] = []
    if len(base_flops) > 1:
        notes.append("several parents with known compute: the largest is taken as the base's")
    if is_adapter:
        notes.append("adapter: parameters are the adapter's; its training also ran the base")
    estimate = comp.estimate(
        params,
        parameter_source=source,
        tokens=comp.declared_tokens(front, raw_cfg, derivative=derivative)
        or comp.gguf_tokens(artifact.gguf_metadata)
        or (None if derivative else known_tokens(_identity_names(artifact, model_name))),
        declared=comp.declared_flop(front),
        base_flop=max(base_flops) if base_flops else None,
        derivative=derivative,
        tiers=config.tiers,
        extra_notes=notes,
    )

    lic = declared_licence(artifact)  # the card's, else a GGUF's general.license
    catalogue = config.licences()
    own = catalogue.resolve(lic.license, lic.license_name)
    parent_names = tuple(p.name for p in lin.parents)
    parent_files = {f for r in records if r.files for f in r.files}
    all_known = all(r.files is not None for r in records)
    dist = Distribution(
        name=model_name,
        declared_licences=frozenset(x.lower() for x in (lic.license, own.id if own else None) if x),
        card_text=(json.dumps(front, sort_keys=True, default=str) + "\n" + card.body)
        if card
        else "",
        files=tuple(f.path for f in artifact.files),
        texts=_texts(artifact) if artifact.is_dir else {},
        parent_names=parent_names,
        parents_ship=frozenset(parent_files) if records and all_known else frozenset(),
    )
    rec_by = {_base(r.name): r for r in records}
    parent_licences = [
        ParentLicence(
            name=p.name,
            license=rec_by[_base(p.name)].license if _base(p.name) in rec_by else None,
            license_name=rec_by[_base(p.name)].license_name if _base(p.name) in rec_by else None,
            inherited=rec_by[_base(p.name)].inherited_licences if _base(p.name) in rec_by else (),
        )
        for p in lin.parents
    ]
    licence = assess(
        catalogue,
        dist,
        license=lic.license,
        license_name=lic.license_name,
        parents=parent_licences,
        declared_uses=_declared_uses(
            front, card.tags if card else (), card.pipeline_tag if card else None
        ),
    )
    audit_doc = _as_dict(audit)
    return Facts(
        subject=SubjectFacts(
            name=model_name,
            family=artifact.family,
            access=access,
            declared_license=lic.license,
            license_name=lic.license_name,
            declared_base_models=declared,
            declared_relation=bases.relation,
            is_adapter=is_adapter,
            files=len(artifact.files),
            problems=list(artifact.problems),
        ),
        scan=scan_facts(scan) if scan is not None else None,
        lineage=lin,
        compute=estimate,
        licence=licence,
        card=check_card(
            front if card else None,
            card.body if card else None,
            derivative=derivative,
            checklist=config.checklist,
            elsewhere={"license": lic.source} if lic.source and lic.source != "card" else None,
        ),
        audit=AuditFacts(
            verdict=str(audit_doc.get("verdict")),
            base=audit_doc.get("base"),
            p_stripped=audit_doc.get("p_stripped"),
            over_refusal_verdict=audit_doc.get("over_refusal_verdict"),
            logged=bool(audit_doc.get("logged")),
        )
        if audit_doc
        else None,
        weights_inspectable=weights_inspectable,
        weights_problem=weights_problem,
        withdrawn_match=list(withdrawn),
        forensics=ForensicsFacts(
            derivation=str(forensics.get("derivation")),
            base=forensics.get("base"),
            abliteration_score=float(forensics.get("abliteration_score") or 0.0),
            direction_consistency=forensics.get("direction_consistency"),
        )
        if forensics
        else None,
    )


def _identity_names(artifact: Artifact, model_name: str | None) -> list[str]:
    """Names the model gives itself, for the known-model token table."""
    meta = artifact.gguf_metadata or {}
    out = []
    base, size = meta.get("general.basename"), meta.get("general.size_label")
    if isinstance(base, str) and isinstance(size, str):
        out.append(f"{base} {size}")
    for v in (
        meta.get("general.name"),
        artifact.card.front_matter.get("model_name") if artifact.card else None,
        artifact.config.raw.get("_name_or_path") if artifact.config else None,
        model_name,
    ):
        if isinstance(v, str) and v:
            out.append(v)
    return out


def context_facts(
    artifact: Artifact, context: PolicyContext, *, config: FactsConfig | None = None
) -> Facts:
    """Facts for a registry's version: its opened work folder, described by the
    registry's :class:`PolicyContext` (its reports, parents and requested access)."""
    return build_facts(
        artifact,
        name=context.name,
        access=context.access,
        scan=context.scan,
        lineage=context.lineage,
        parents=context.parents,
        audit=context.audit,
        config=config,
        weights_inspectable=context.weights_inspectable,
        weights_problem=context.weights_problem,
        withdrawn=context.withdrawn,
        forensics=context.forensics,
    )


def facts_for(
    target: str | Path | Artifact,
    *,
    run_scan: bool = True,
    **kwargs: Any,
) -> Facts:
    """Facts for a path or an opened artifact; scans the path unless a report is given.

    Keyword arguments are those of ``build_facts`` (name, access, scan, lineage, parents,
    audit, config).
    """
    from weightwatch.artifacts import open_artifact

    artifact = target if isinstance(target, Artifact) else open_artifact(target)
    if run_scan and kwargs.get("scan") is None:
        from weightwatch.scan import scan_paths

        kwargs["scan"] = scan_paths([artifact.subject])  # the file named, not its folder
    return build_facts(artifact, **kwargs)


__all__ = [
    "FactsConfig",
    "ParentRecord",
    "build_facts",
    "context_facts",
    "default_catalogue",
    "facts_for",
    "lineage_facts",
    "scan_facts",
]
