"""CycloneDX 1.6 ML-BOM, built with ``cyclonedx-python-lib`` and checked against the
official (strict) 1.6 JSON schema that ships inside that library.

The library models components, hashes, licences, pedigree and properties; it has no
``modelCard`` type yet, so the model card (architecture, audit metrics, compute) is
added to the serialized document before the schema check. Everything weightwatch
measured that CycloneDX has no field for is a ``weightwatch:`` property (a taxonomy
documented in ``docs/bom.md``).
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.license import DisjunctiveLicense, LicenseAcknowledgement
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from weightwatch.bom.licence import spdx_id
from weightwatch.bom.model import BomParent, BomSubject
from weightwatch.bom.properties import subject_properties
from weightwatch.errors import VerificationError


def _licence(declared: str | None) -> list[DisjunctiveLicense]:
    if not declared:
        return []
    sid = spdx_id(declared)
    ack = LicenseAcknowledgement.DECLARED
    if sid:
        return [DisjunctiveLicense(id=sid, acknowledgement=ack)]
    return [DisjunctiveLicense(name=declared, acknowledgement=ack)]


def _ancestor(p: BomParent, i: int) -> Component:
    name, _, version = p.name.partition("@")
    props = [Property(name="weightwatch:lineage:evidence", value=p.evidence)]
    if p.relation:
        props.append(Property(name="weightwatch:lineage:relation", value=p.relation))
    if p.p_value is not None:
        props.append(Property(name="weightwatch:lineage:p_value", value=f"{p.p_value:.6g}"))
    if p.score is not None:
        props.append(Property(name="weightwatch:lineage:score", value=f"{p.score:.6g}"))
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=name,
        version=version or None,
        bom_ref=f"parent-{i}",
        licenses=_licence(p.licence),
        properties=props,
    )


def _model_card(s: BomSubject) -> dict[str, Any]:
    card: dict[str, Any] = {"bom-ref": "model-card"}
    if s.facts.subject.family:
        card["modelParameters"] = {"architectureFamily": s.facts.subject.family}
    if s.audit:
        metrics = [
            {"type": f"attack success rate ({who}): {attack}", "value": f"{rate:.4g}"}
            for who, key in (("base", "base_asr"), ("this model", "derivative_asr"))
            for attack, rate in sorted((s.audit.get(key) or {}).items())
        ]
        metrics.append({"type": "audit verdict vs base", "value": str(s.audit.get("verdict"))})
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    c = s.facts.compute
    env = [
        {"name": "weightwatch:compute:total_parameters", "value": str(c.total_parameters)},
        {"name": "weightwatch:compute:training_flop", "value": _num(c.flop)},
        {"name": "weightwatch:compute:tier", "value": c.tier or "none"},
    ]
    env += [{"name": "weightwatch:compute:assumption", "value": a} for a in c.assumptions]
    card["considerations"] = {"environmentalConsiderations": {"properties": env}}
    return card


def _num(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.4g}"


def build(subject: BomSubject, *, tool_version: str) -> Bom:
    """The library's ``Bom`` for ``subject`` (without the model card; see ``render``)."""
    files = [
        Component(
            type=ComponentType.FILE,
            name=f.path,
            bom_ref=f"file:{f.path}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)],
            properties=[Property(name="weightwatch:file:size", value=str(f.size))],
        )
        for f in subject.files
    ]
    ancestors = [_ancestor(p, i) for i, p in enumerate(subject.parents)]
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=subject.name,
        version=subject.version,
        bom_ref="model",
        licenses=_licence(subject.facts.licence.declared),
        components=files,
        pedigree=Pedigree(ancestors=ancestors) if ancestors else None,
        properties=[Property(name=n, value=v) for n, v in subject_properties(subject)],
    )
    bom = Bom(serial_number=_serial(subject))
    bom.metadata.timestamp = datetime.fromisoformat(subject.created).astimezone(UTC)
    bom.metadata.component = model
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="weightwatch", version=tool_version)
    )
    return bom


def _serial(subject: BomSubject) -> uuid.UUID:
    """Stable per content: the same version and facts give the same serial number."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "weightwatch-bom:" + subject.canonical_json().hex())


def render(subject: BomSubject, *, tool_version: str) -> dict[str, Any]:
    """The CycloneDX 1.6 JSON document, validated against the official strict schema."""
    text = JsonV1Dot6(build(subject, tool_version=tool_version)).output_as_string()
    doc: dict[str, Any] = json.loads(text)
    doc["metadata"]["component"]["modelCard"] = _model_card(subject)
    validate(doc)
    return doc


@functools.cache
def _validator() -> JsonStrictValidator:
    return JsonStrictValidator(SchemaVersion.V1_6)


def validate(doc: dict[str, Any]) -> None:
    """Raise ``VerificationError`` unless ``doc`` is valid CycloneDX 1.6 (strict schema)."""
    error = _validator().validate_str(json.dumps(doc))
    if error is not None:
        raise VerificationError(f"not a valid CycloneDX 1.6 document: {error}")


__all__ = ["build", "render", "validate"]
