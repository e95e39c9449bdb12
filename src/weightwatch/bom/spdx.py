"""SPDX 3.0.1 with the AI profile, as JSON-LD, checked against the official SPDX 3.0.1
JSON schema (vendored in ``schemas/``, see its README) and the AI profile's conformance
rules that the JSON schema cannot express.

Built here as plain JSON-LD rather than with ``spdx-tools``, whose SPDX 3 support
predates 3.0.1 and writes an older context. The model is one ``ai_AIPackage`` that
``contains`` one ``software_File`` per file (SHA-256), is a ``descendantOf`` each parent
(a comment and an annotation carry relation, p-value and evidence), has one declared
and one concluded licence, and carries weightwatch's measurements as annotations.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from weightwatch.bom.licence import expression
from weightwatch.bom.model import BomParent, BomSubject
from weightwatch.bom.properties import subject_properties
from weightwatch.errors import VerificationError

SPEC_VERSION = "3.0.1"
CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
NO_ASSERTION_LICENSE = "expandedlicensing_NoAssertionLicense"  # the context's named individual
_CI = "_:creationinfo"


def _time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Graph:
    """Elements in document order, each with the one creation info."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.items: list[dict[str, Any]] = []
        self.n = 0

    def id(self, kind: str) -> str:
        self.n += 1
        return f"{self.base}/{kind}-{self.n}"

    def add(self, kind: str, type_: str, **fields: Any) -> str:
        sid = self.id(kind)
        self.items.append({"type": type_, "spdxId": sid, "creationInfo": _CI, **fields})
        return sid

    def rel(self, src: str, kind: str, to: list[str], **fields: Any) -> str:
        return self.add(
            "relationship",
            "Relationship",
            **{"from": src, "relationshipType": kind, "to": to, **fields},
        )


def _licence(g: _Graph, declared: str | None) -> str:
    """A licence expression element for ``declared``, or SPDX's NoAssertionLicense."""
    if not declared:
        return NO_ASSERTION_LICENSE
    return g.add(
        "licence",
        "simplelicensing_LicenseExpression",
        simplelicensing_licenseExpression=expression(declared),
    )


def _parent(g: _Graph, model: str, p: BomParent, ns_agent: str, created: str) -> None:
    name, _, version = p.name.partition("@")
    pid = g.add(
        "parent",
        "ai_AIPackage",
        name=name,
        software_packageVersion=version or "NOASSERTION",
        software_primaryPurpose="model",
        software_downloadLocation=f"urn:weightwatch:model:{p.name}",
        suppliedBy=ns_agent,
        releaseTime=created,
    )
    g.rel(pid, "hasDeclaredLicense", [_licence(g, p.licence)])
    g.rel(pid, "hasConcludedLicense", [NO_ASSERTION_LICENSE])
    bits = [f"evidence: {p.evidence}"]
    if p.relation:
        bits.append(f"relation: {p.relation}")
    if p.p_value is not None:
        bits.append(f"p-value: {p.p_value:.6g}")
    if p.score is not None:
        bits.append(f"score: {p.score:.6g}")
    rid = g.rel(model, "descendantOf", [pid], comment="; ".join(bits))
    for b in bits:
        key, _, value = b.partition(": ")
        g.add(
            "annotation",
            "Annotation",
            annotationType="other",
            subject=rid,
            statement=f"weightwatch:lineage:{key.replace('-', '_').replace(' ', '_')}={value}",
        )


def render(
    subject: BomSubject, *, tool_version: str, download_location: str | None = None
) -> dict[str, Any]:
    """The SPDX 3.0.1 JSON-LD document, validated (schema and AI profile rules)."""
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "weightwatch-spdx:" + subject.canonical_json().hex())
    g = _Graph(f"urn:uuid:{serial}")
    created = _time(subject.created)
    tool = g.add("tool", "Tool", name=f"weightwatch {tool_version}")
    creator = g.add("agent", "SoftwareAgent", name="weightwatch")
    ns = subject.name.split("/")[0] if "/" in subject.name else subject.name
    supplier = g.add("supplier", "Organization", name=ns)
    model = g.add(
        "model",
        "ai_AIPackage",
        name=subject.name,
        software_packageVersion=subject.version,
        software_primaryPurpose="model",
        software_downloadLocation=download_location or f"urn:weightwatch:model:{subject.label}",
        suppliedBy=supplier,
        releaseTime=created,
        **_ai_fields(subject),
    )
    files = [
        g.add(
            "file",
            "software_File",
            name=f.path,
            verifiedUsing=[{"type": "Hash", "algorithm": "sha256", "hashValue": f.sha256}],
        )
        for f in subject.files
    ]
    if files:
        g.rel(model, "contains", files)
    declared = subject.facts.licence.declared
    lic = _licence(g, declared)
    g.rel(model, "hasDeclaredLicense", [lic])
    concluded = (
        [lic]
        if declared and subject.facts.licence.recognised and not subject.facts.licence.conflicts
        else [NO_ASSERTION_LICENSE]
    )
    g.rel(model, "hasConcludedLicense", concluded)
    for p in subject.parents:
        _parent(g, model, p, supplier, created)
    for name, value in subject_properties(subject):
        g.add(
            "annotation",
            "Annotation",
            annotationType="other",
            subject=model,
            statement=f"{name}={value}",
        )
    doc_id = g.add(
        "document",
        "SpdxDocument",
        name=f"AI-BOM of {subject.label}",
        dataLicense="https://spdx.org/licenses/CC0-1.0",
        profileConformance=["core", "software", "ai", "simpleLicensing"],
        rootElement=[model],
    )
    elements = [i["spdxId"] for i in g.items if i["spdxId"] != doc_id]
    next(i for i in g.items if i["spdxId"] == doc_id)["element"] = elements
    info = {
        "type": "CreationInfo",
        "@id": _CI,
        "specVersion": SPEC_VERSION,
        "created": created,
        "createdBy": [creator],
        "createdUsing": [tool],
    }
    doc = {"@context": CONTEXT, "@graph": [info, *g.items]}
    validate(doc)
    return doc


def _ai_fields(s: BomSubject) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.facts.subject.family:
        out["ai_typeOfModel"] = [s.facts.subject.family]
    if s.audit:
        metrics = [
            {"type": "DictionaryEntry", "key": f"attack success rate: {a}", "value": f"{r:.4g}"}
            for a, r in sorted((s.audit.get("derivative_asr") or {}).items())
        ]
        metrics.append(
            {"type": "DictionaryEntry", "key": "audit verdict", "value": str(s.audit["verdict"])}
        )
        out["ai_metric"] = metrics
    missing = [i.label for i in s.facts.card.items if not i.present]
    if missing:
        out["comment"] = "model card lacks: " + ", ".join(missing)
    return out


@functools.cache
def _validator() -> Any:
    """The official schema, compiled once by ``jsonschema-rs`` (the pure-Python
    ``jsonschema`` takes tens of seconds per document on this schema's
    ``unevaluatedProperties``; tests check both agree)."""
    import jsonschema_rs

    text = resources.files("weightwatch.bom").joinpath("schemas/spdx-3.0.1.schema.json")
    return jsonschema_rs.Draft202012Validator(json.loads(text.read_text(encoding="utf-8")))


def validate(doc: dict[str, Any]) -> None:
    """Raise ``VerificationError`` unless ``doc`` is valid SPDX 3.0.1 JSON (official
    schema) and every ``ai_AIPackage`` meets the AI profile's conformance rules."""
    validator = _validator()
    if not validator.is_valid(doc):
        raise VerificationError(f"not valid SPDX 3.0.1 JSON: {_locate(validator, doc)}")
    _ai_profile(doc)


def _locate(validator: Any, doc: dict[str, Any]) -> str:
    """The first ``@graph`` element that fails alone: the schema's top-level
    ``unevaluatedProperties`` otherwise hides which element is wrong."""
    graph = doc.get("@graph")
    if isinstance(graph, list):
        for i, element in enumerate(graph):
            if not validator.is_valid({"@context": doc.get("@context"), "@graph": [element]}):
                kind = element.get("type") if isinstance(element, dict) else None
                return f"@graph[{i}] (type {kind}) does not match the schema"
    error = next(iter(validator.iter_errors(doc)), None)
    return "does not match the schema" if error is None else str(error.message)[:300]


_AI_REQUIRED = (
    "suppliedBy",
    "software_downloadLocation",
    "software_packageVersion",
    "software_primaryPurpose",
    "releaseTime",
)


def _ai_profile(doc: dict[str, Any]) -> None:
    """The AI profile's rules (spdx-3-model ``AI.md`` and ``AIPackage.md``, 3.0.1): the
    package's required properties, and exactly one declared and one concluded licence."""
    graph = doc.get("@graph", [])
    rels = [e for e in graph if e.get("type") == "Relationship"]
    for pkg in (e for e in graph if e.get("type") == "ai_AIPackage"):
        sid = pkg.get("spdxId")
        lacking = [k for k in _AI_REQUIRED if k not in pkg]
        if lacking:
            raise VerificationError(f"SPDX AI profile: {sid} lacks {', '.join(lacking)}")
        for kind in ("hasDeclaredLicense", "hasConcludedLicense"):
            n = sum(1 for r in rels if r.get("from") == sid and r.get("relationshipType") == kind)
            if n != 1:
                raise VerificationError(f"SPDX AI profile: {sid} has {n} {kind}, needs one")


__all__ = ["CONTEXT", "SPEC_VERSION", "render", "validate"]
