"""A fixed BOM subject: a gated fine-tune whose weights match a registered base (the
card declares another), with an audit and a watermark. No model is built."""

from __future__ import annotations

from tests.policy.helpers import make_facts
from weightwatch.bom.model import BomFile, BomSubject, parents_from
from weightwatch.policy import ParentRecord

LINEAGE = {
    "parents": [{"name": "acme/base@1", "relation": "finetune", "score": 0.91, "p_value": 2.5e-40}],
    "relation": "finetune",
    "disagreements": ["declares base_model ['meta/other'] but derives from acme/base"],
}
AUDIT = {
    "schema_version": "1",
    "base": "acme/base@1",
    "derivative": "acme/chat@2",
    "verdict": "stripped",
    "p_stripped": 0.0004,
    "p_equivalence": 0.9,
    "alpha_per_attack": 0.025,
    "over_refusal_verdict": None,
    "p_over_refusal": None,
    "base_asr": {"direct": 0.05, "many-shot": 0.1},
    "derivative_asr": {"direct": 0.6, "many-shot": 0.8},
}


def subject() -> BomSubject:
    facts = make_facts(
        name="acme/chat",
        license="apache-2.0",
        declared=["meta/other"],
        lineage=LINEAGE,
        parents=[
            ParentRecord(
                name="acme/base@1",
                license="apache-2.0",
                status="published",
                kind="detected",
                relation="finetune",
            )
        ],
        tokens=2e12,
    )
    return BomSubject(
        source="registry",
        name="acme/chat",
        version="2",
        created="2026-12-06T10:00:00+00:00",
        files=[
            BomFile(path="README.md", size=120, sha256="11" * 32),
            BomFile(path="config.json", size=700, sha256="22" * 32),
            BomFile(path="model.safetensors", size=2_626_216, sha256="33" * 32),
        ],
        weights_digest="ab" * 32,
        value_digest="cd" * 32,
        facts=facts,
        parents=parents_from(facts),
        status="gated",
        decision="gate: lineage: weights derive from acme/base@1 [lineage-undeclared]",
        audit=AUDIT,
        watermarks=["chat (kgw): key id 0123456789abcdef"],
        signer_key_id="ee" * 32,
    )
