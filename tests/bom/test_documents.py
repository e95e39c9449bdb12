"""Both BOM formats from one fixed subject: valid against the official schemas (checked
here again with the schema files themselves, not only through our ``validate``), with
the pedigree, hashes, licence, obligations, scan, compute, audit and watermarks in
them; broken documents are refused; detached signatures cover exact bytes."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.bom.helpers import subject
from weightwatch.attest import generate
from weightwatch.attest.keys import KeyVerifier
from weightwatch.bom import completeness, render, sign_bom, to_bytes, validate, verify_bom
from weightwatch.errors import VerificationError

SPDX_SCHEMA_SHA256 = "59f59713c7d73ff0d833f4f468df974a689fc9dd36dc5510f1875ff85d276c54"


def spdx_schema() -> dict[str, Any]:
    path = resources.files("weightwatch.bom").joinpath("schemas/spdx-3.0.1.schema.json")
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SPDX_SCHEMA_SHA256  # the official file, unedited
    doc: dict[str, Any] = json.loads(raw)
    return doc


def props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_cyclonedx_is_valid_and_carries_everything() -> None:
    doc = render(subject(), "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is None
    assert doc["specVersion"] == "1.6"
    model = doc["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert model["licenses"] == [{"license": {"acknowledgement": "declared", "id": "Apache-2.0"}}]
    files = {c["name"]: c["hashes"][0] for c in model["components"]}
    assert files["model.safetensors"] == {"alg": "SHA-256", "content": "33" * 32}
    ancestors = {a["name"]: props(a) for a in model["pedigree"]["ancestors"]}
    assert ancestors["acme/base"]["weightwatch:lineage:evidence"] == ["verified-from-weights"]
    assert ancestors["acme/base"]["weightwatch:lineage:relation"] == ["finetune"]
    assert float(ancestors["acme/base"]["weightwatch:lineage:p_value"][0]) == 2.5e-40
    assert ancestors["meta/other"]["weightwatch:lineage:evidence"] == ["declared"]
    assert "weightwatch:lineage:p_value" not in ancestors["meta/other"]
    p = props(model)
    assert p["weightwatch:weights_digest"] == ["sha256:" + "ab" * 32]
    assert p["weightwatch:scan:verdict"] == ["clean"]
    assert any("§4(a) licence-copy" in o for o in p["weightwatch:licence:obligation"])
    assert p["weightwatch:watermark:deployment"] == ["chat (kgw): key id 0123456789abcdef"]
    assert p["weightwatch:audit:verdict"] == ["stripped"]
    assert p["weightwatch:compute:total_parameters"][0].isdigit()
    card = model["modelCard"]
    assert card["modelParameters"]["architectureFamily"] == "llama"
    metrics = {m["type"]: m["value"] for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    assert metrics["attack success rate (this model): many-shot"] == "0.8"


def test_spdx_is_valid_and_carries_everything() -> None:
    doc = render(subject(), "spdx")
    jsonschema_rs.Draft202012Validator(spdx_schema()).validate(doc)
    graph = doc["@graph"]
    by_id = {e.get("spdxId"): e for e in graph}
    document = next(e for e in graph if e["type"] == "SpdxDocument")
    assert "ai" in document["profileConformance"]
    model = by_id[document["rootElement"][0]]
    assert model["type"] == "ai_AIPackage" and model["name"] == "acme/chat"
    rels = [e for e in graph if e["type"] == "Relationship" and e["from"] == model["spdxId"]]
    kinds = [r["relationshipType"] for r in rels]
    assert kinds.count("hasDeclaredLicense") == kinds.count("hasConcludedLicense") == 1
    declared = by_id[
        next(r for r in rels if r["relationshipType"] == "hasDeclaredLicense")["to"][0]
    ]
    assert declared["simplelicensing_licenseExpression"] == "Apache-2.0"
    contains = next(r for r in rels if r["relationshipType"] == "contains")
    hashes = {by_id[t]["name"]: by_id[t]["verifiedUsing"][0]["hashValue"] for t in contains["to"]}
    assert hashes == {
        "README.md": "11" * 32,
        "config.json": "22" * 32,
        "model.safetensors": "33" * 32,
    }
    parents = {
        by_id[r["to"][0]]["name"]: r for r in rels if r["relationshipType"] == "descendantOf"
    }
    assert "evidence: verified-from-weights" in parents["acme/base"]["comment"]
    assert "p-value: 2.5e-40" in parents["acme/base"]["comment"]
    assert "evidence: declared" in parents["meta/other"]["comment"]
    notes = [e["statement"] for e in graph if e["type"] == "Annotation"]
    assert "weightwatch:scan:verdict=clean" in notes
    assert "weightwatch:audit:verdict=stripped" in notes
    assert "weightwatch:lineage:evidence=verified-from-weights" in notes
    assert {m["key"]: m["value"] for m in model["ai_metric"]}["audit verdict"] == "stripped"


@pytest.mark.slow
def test_pure_python_jsonschema_agrees_on_spdx() -> None:
    """The reference validator (``jsonschema``, tens of seconds on this schema) accepts
    what the fast one accepts, and refuses a broken element too."""
    full = render(subject(), "spdx")
    kinds: dict[str, dict[str, Any]] = {}
    for element in full["@graph"]:  # one element of each type: the reference is slow
        kinds.setdefault(element["type"], element)
    doc = {"@context": full["@context"], "@graph": list(kinds.values())}
    assert len(kinds) >= 8
    reference = jsonschema.Draft202012Validator(spdx_schema())
    assert reference.is_valid(doc)
    doc["@graph"][0]["created"] = "yesterday"
    assert not reference.is_valid(doc)


def test_unrecognised_licences_become_licence_refs() -> None:
    s = subject()
    facts = s.facts.model_copy(
        update={"licence": s.facts.licence.model_copy(update={"declared": "llama3.1"})}
    )
    s = s.model_copy(update={"facts": facts})
    cdx = render(s, "cyclonedx")["metadata"]["component"]["licenses"]
    assert cdx == [{"license": {"acknowledgement": "declared", "name": "llama3.1"}}]
    exprs = [
        e["simplelicensing_licenseExpression"]
        for e in render(s, "spdx")["@graph"]
        if e["type"] == "simplelicensing_LicenseExpression"
    ]
    assert "LicenseRef-llama3.1" in exprs


BROKEN = {
    "cyclonedx": [
        lambda d: d["metadata"]["component"].__setitem__("type", "weights"),
        lambda d: d["metadata"]["component"]["modelCard"].__setitem__("unknown", 1),
        lambda d: d["metadata"]["component"]["components"][0]["hashes"][0].update(content="xyz"),
    ],
    "spdx": [
        lambda d: d["@graph"][0].__setitem__("created", "yesterday"),
        lambda d: d["@graph"][1].__setitem__("type", "ai_Bogus"),
        lambda d: [e.pop("suppliedBy", None) for e in d["@graph"]],  # AI profile rule
        lambda d: d.__setitem__(
            "@graph",
            [e for e in d["@graph"] if e.get("relationshipType") != "hasConcludedLicense"],
        ),
    ],
}


@pytest.mark.parametrize(
    ("fmt", "i"), [(f, i) for f, breaks in BROKEN.items() for i in range(len(breaks))]
)
def test_broken_documents_are_refused(fmt: str, i: int) -> None:
    doc = copy.deepcopy(render(subject(), fmt))
    validate(doc, fmt)
    BROKEN[fmt][i](doc)
    with pytest.raises(VerificationError):
        validate(doc, fmt)


def test_documents_are_stable_per_content() -> None:
    """The same version renders the same bytes (serial numbers come from the content),
    so a detached signature fetched later still matches."""
    for fmt in ("cyclonedx", "spdx"):
        assert to_bytes(render(subject(), fmt)) == to_bytes(render(subject(), fmt))
    other = subject().model_copy(update={"status": "taken_down"})
    assert (
        render(other, "cyclonedx")["serialNumber"] != render(subject(), "cyclonedx")["serialNumber"]
    )


def test_detached_signature_covers_exact_bytes() -> None:
    signer = generate()
    verifier = KeyVerifier(signer.public_key, signer.key_id)
    data = to_bytes(render(subject(), "spdx"))
    bundle = sign_bom(data, signer, fmt="spdx", model="acme/chat@2", weights_digest="ab" * 32)
    stmt = verify_bom(data, bundle, verifier)
    assert stmt["predicateType"] == "https://spdx.dev/Document"
    with pytest.raises(VerificationError, match="not the one that was signed"):
        verify_bom(data.replace(b"Apache-2.0", b"MIT"), bundle, verifier)
    other = generate()
    with pytest.raises(VerificationError):
        verify_bom(data, bundle, KeyVerifier(other.public_key, other.key_id))


def test_completeness_counts_documented_fields() -> None:
    full = completeness(subject())
    card = completeness(subject(), card_only=True)
    assert full.total == card.total == 20
    missing = {f.id for f in full.fields if not f.present}
    assert missing == {"compute_tier"}  # no training tokens declared: FLOP unknown
    card_missing = {f.id for f in card.fields if not f.present}
    assert {"file_hashes", "weights_digest", "pedigree_verified", "scan"} <= card_missing
    assert card.score < full.score
