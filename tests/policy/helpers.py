"""Facts built from plain values, for rule and engine tests that need no artifact."""

from __future__ import annotations

from typing import Any

from weightwatch.policy.build import ParentRecord, default_catalogue, lineage_facts, scan_facts
from weightwatch.policy.card import check_card
from weightwatch.policy.compute import estimate, params_from_config
from weightwatch.policy.facts import AuditFacts, Facts, SubjectFacts
from weightwatch.policy.licences.checks import Distribution
from weightwatch.policy.licences.obligations import ParentLicence, assess

GOOD_BODY = "## Uses\nx\n## Limitations\nx\n## Training data\nx\n## Evaluation\nx\n"


def finding(severity: str, rule: str = "WW-TEST-1", file: str = "model.bin") -> dict[str, Any]:
    return {
        "rule_id": rule,
        "severity": severity,
        "title": f"{severity} thing",
        "location": {"file": file},
    }


def make_facts(
    *,
    name: str = "acme/model",
    license: str | None = "mit",
    findings: list[dict[str, Any]] | None = None,
    scanned: bool = True,
    declared: list[str] | None = None,
    lineage: dict[str, Any] | None = None,
    parents: list[ParentRecord] | None = None,
    config: dict[str, Any] | None = None,
    tokens: float | None = None,
    base_flop: float | None = None,
    card_front: dict[str, Any] | None = None,
    body: str = GOOD_BODY,
    files: tuple[str, ...] = ("LICENSE", "model.safetensors"),
    texts: dict[str, str] | None = None,
    audit: dict[str, Any] | None = None,
    access: str = "public",
) -> Facts:
    declared = declared or []
    parents = parents or []
    lin = lineage_facts(declared=declared, lineage=lineage, parents=parents)
    cfg = config or {
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 100,
        "intermediate_size": 128,
    }
    params = params_from_config(cfg)
    comp = estimate(
        params,
        parameter_source="config",
        tokens=(tokens, "card:training_tokens") if tokens else None,
        base_flop=base_flop,
        derivative=lin.is_derivative,
    )
    front = {
        "license": license,
        **({"base_model": declared} if declared else {}),
        **(card_front or {}),
    }
    dist = Distribution(
        name=name,
        declared_licences=frozenset({license} if license else set()),
        card_text=str(front) + body,
        files=files,
        texts=texts or {},
        parent_names=tuple(p.name for p in lin.parents),
    )
    records = {p.name: p for p in parents}
    licence = assess(
        default_catalogue(),
        dist,
        license=license,
        license_name=None,
        parents=[
            ParentLicence(
                p.name,
                records[p.name].license if p.name in records else None,
                None,
                records[p.name].inherited_licences if p.name in records else (),
            )
            for p in lin.parents
        ],
    )
    return Facts(
        subject=SubjectFacts(
            name=name,
            family="llama",
            access=access,
            declared_license=license,
            license_name=None,  # type: ignore[arg-type]
            declared_base_models=declared,
            declared_relation=None,
            is_adapter=False,
            files=len(files),
            problems=[],
        ),
        scan=scan_facts({"files": [{"path": "m", "findings": findings or []}]})
        if scanned
        else None,
        lineage=lin,
        compute=comp,
        licence=licence,
        card=check_card(front, body, derivative=lin.is_derivative),
        audit=AuditFacts(**audit) if audit else None,
    )
