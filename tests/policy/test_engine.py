"""The default policy rule by rule, the strictest-wins order, loading and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weightwatch.errors import PolicyError, WeightwatchError
from weightwatch.policy import ParentRecord, evaluate, load_policy, loads_policy
from weightwatch.policy.engine import ACTIONS, strictest

from .helpers import finding, make_facts

DEFAULT = load_policy()


def rule_ids(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.rule_id for r in decision.reasons]


def test_clean_complete_model_is_published_without_reasons() -> None:
    d = evaluate(make_facts(), DEFAULT)
    assert (d.action, d.access, d.reasons) == ("publish", "public", [])
    assert d.policy_id == "weightwatch-default" and d.facts_digest.startswith("sha256:")


def test_critical_or_high_finding_blocks_with_one_reason_each() -> None:
    facts = make_facts(
        findings=[
            finding("critical", "WW-PICKLE-EXEC"),
            finding("high", "WW-X", "b.bin"),
            finding("low"),
        ]
    )
    d = evaluate(facts, DEFAULT)
    assert d.action == "block"
    msgs = [r.message for r in d.reasons if r.rule_id == "scan-code-execution"]
    assert msgs == [
        "scan WW-PICKLE-EXEC (critical) in model.bin: critical thing",
        "scan WW-X (high) in b.bin: high thing",
    ]


def test_medium_finding_quarantines_and_missing_scan_gates() -> None:
    assert evaluate(make_facts(findings=[finding("medium")]), DEFAULT).action == "quarantine"
    d = evaluate(make_facts(scanned=False), DEFAULT)
    assert d.action == "gate" and rule_ids(d) == ["scan-missing"]


@pytest.mark.parametrize(
    ("status", "action", "access"),
    [
        ("taken_down", "quarantine", "public"),
        ("blocked", "quarantine", "public"),
        ("quarantined", "quarantine", "public"),
        ("gated", "gate", "gated"),
        ("restricted", "gate", "restricted"),
        ("published", "publish", "public"),
    ],
)
def test_parent_status_passes_down(status: str, action: str, access: str) -> None:
    facts = make_facts(
        declared=["org/base"],
        lineage={
            "relation": "finetune",
            "parents": [
                {"name": "org/base@1", "relation": "finetune", "score": 0.9, "p_value": 1e-9}
            ],
            "disagreements": [],
        },
        parents=[ParentRecord(name="org/base@1", status=status, license="mit")],
    )
    d = evaluate(facts, DEFAULT)
    assert (d.action, d.access) == (action, access)
    if status == "taken_down":
        assert d.reasons[0].message == "lineage: derived from org/base@1, which is taken_down"


def test_undeclared_and_misdeclared_lineage_gate() -> None:
    # An undeclared parent is one finding (lineage-undeclared), not also a "misdeclared"
    # card saying the same thing again (#18); a real disagreement still is one.
    facts = make_facts(
        lineage={
            "relation": "finetune",
            "parents": [
                {"name": "org/base@1", "relation": "finetune", "score": 0.93, "p_value": 2e-12}
            ],
            "disagreements": [
                "derived (finetune) but the card declares no base_model",
                "declares base_model_relation 'merge', detected 'finetune'",
            ],
        },
        parents=[ParentRecord(name="org/base@1", license="mit")],
    )
    d = evaluate(facts, DEFAULT)
    assert d.action == "gate"
    assert [r.message for r in d.reasons if r.rule_id.startswith("lineage")] == [
        "lineage: weights derive from org/base@1 (finetune, p = 2e-12) but the card does not declare it as base_model",
        "lineage: declares base_model_relation 'merge', detected 'finetune'",
    ]


def test_llama_derivative_missing_obligations_is_gated_naming_the_clause() -> None:
    facts = make_facts(
        name="acme/super-chat",
        license="llama3.1",
        declared=["meta/base"],
        parents=[ParentRecord(name="meta/base", license="llama3.1", kind="declared")],
    )
    d = evaluate(facts, DEFAULT)
    assert d.action == "gate"
    messages = [r.message for r in d.reasons if r.rule_id == "licence-obligation-unmet"]
    assert any(
        m.startswith("licence llama3.1 §1.b.i: derivative name must begin with 'Llama'")
        for m in messages
    )
    assert any(
        m.startswith('licence llama3.1 §1.b.i(B): prominently display "Built with Llama"')
        for m in messages
    )
    assert any("§1.b.iii" in m for m in messages)


def test_licence_conflict_and_unrecognised_licence() -> None:
    facts = make_facts(
        license="apache-2.0",
        declared=["g/gemma"],
        parents=[ParentRecord(name="g/gemma", license="gemma")],
    )
    d = evaluate(facts, DEFAULT)
    conflict = [r.message for r in d.reasons if r.rule_id == "licence-conflict"]
    assert (
        conflict
        and conflict[0].startswith("licence gemma §3.1:")
        and "declares apache-2.0" in conflict[0]
    )
    d2 = evaluate(make_facts(license="wtfpl"), DEFAULT)
    assert d2.action == "publish" and rule_ids(d2) == ["licence-unrecognised"]


def test_compute_tier_gates_and_modification_warns() -> None:
    big = make_facts(
        config={
            "model_type": "llama",
            "hidden_size": 16384,
            "intermediate_size": 53248,
            "num_hidden_layers": 126,
            "num_attention_heads": 128,
            "num_key_value_heads": 8,
            "vocab_size": 128256,
        },
        tokens=15.6e12,
    )
    d = evaluate(big, DEFAULT)
    assert d.action == "gate" and rule_ids(d) == ["compute-systemic-risk"]
    assert "reaches tier eu-systemic-risk-1e25" in d.reasons[0].message
    mod = make_facts(
        declared=["org/base"],
        parents=[ParentRecord(name="org/base", license="mit")],
        tokens=1e9,
        base_flop=1.0,
    )
    d2 = evaluate(mod, DEFAULT)
    assert "compute-modifier-becomes-provider" in rule_ids(d2)


def test_stripped_audit_quarantines() -> None:
    audit = {
        "verdict": "stripped",
        "base": "org/base",
        "p_stripped": 1e-6,
        "over_refusal_verdict": None,
    }
    d = evaluate(make_facts(audit=audit), DEFAULT)
    assert d.action == "quarantine"
    assert (
        d.reasons[0].message
        == "audit: refusals significantly lower than org/base (p = 1e-06): safety stripped"
    )
    audit["verdict"] = "equivalent"
    assert evaluate(make_facts(audit=audit), DEFAULT).action == "publish"


def test_incomplete_card_warns_by_default_and_gates_when_configured() -> None:
    facts = make_facts(body="# nothing here\n")
    d = evaluate(facts, DEFAULT)
    assert d.action == "publish" and d.warnings[0].message.startswith("card: missing intended_use")
    strict = loads_policy(
        "id: strict\nversion: 2\nextends: default\nrules:\n"
        "  - {id: card-incomplete, when: {fact: card.complete, eq: false}, action: gate, reason: 'card: missing {card.missing}'}\n"
    )
    assert evaluate(facts, strict).action == "gate"
    assert [r.id for r in strict.rules] == [r.id for r in DEFAULT.rules]  # replaced in place


def test_strictest_wins_and_all_reasons_are_kept() -> None:
    facts = make_facts(
        findings=[finding("critical")],
        audit={
            "verdict": "stripped",
            "base": "b",
            "p_stripped": 0.001,
            "over_refusal_verdict": None,
        },
        body="",
    )
    d = evaluate(facts, DEFAULT)
    assert d.action == "block"
    assert {r.action for r in d.reasons} == {"block", "quarantine", "publish"}
    for a in ACTIONS:
        for b in ACTIONS:
            assert strictest(a, b) == max(a, b, key=ACTIONS.index)


def test_declared_access_is_kept_and_gate_never_leaves_public() -> None:
    assert evaluate(make_facts(access="restricted"), DEFAULT).access == "restricted"
    d = evaluate(make_facts(scanned=False), DEFAULT)
    assert (d.action, d.access) == ("gate", "gated")


def test_decision_canonical_form_is_its_json() -> None:
    """The golden file itself is checked (and regenerated) by tests/test_goldens.py."""
    facts = make_facts(
        name="acme/super-chat",
        license="llama3.1",
        declared=["meta/base"],
        parents=[ParentRecord(name="meta/base", license="llama3.1", status="gated")],
        findings=[finding("low")],
    )
    d = evaluate(facts, DEFAULT)
    assert json.loads(d.canonical()) == d.to_json()
    assert evaluate(facts, DEFAULT) == d  # deterministic


def test_facts_digest_changes_with_facts() -> None:
    a, b = make_facts(), make_facts(license="apache-2.0")
    assert a.digest() == make_facts().digest() and a.digest() != b.digest()
    assert a.canonical() == make_facts().canonical()


# -- loading --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: ban\n    reason: nope\n",
            r"policy.yaml:5: rules\[0\] \(r\): action must be one of publish, gate, quarantine, block",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n    reason: x\n    when: {fact: scan.verdikt, eq: x}\n",
            r"policy.yaml:7: rules\[0\] \(r\): when.fact: unknown fact path 'scan.verdikt'",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n    reason: 'bad {scan.nope}'\n",
            r"policy.yaml:6: rules\[0\] \(r\): reason: unknown fact path",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n    reason: x\n    for_each: scan.verdict\n",
            r"for_each: 'scan.verdict' is not a list",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n    reason: x\n    colour: red\n",
            r"unknown keys \['colour'\]",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n",
            r"needs a non-empty string 'reason'",
        ),
        (
            "id: x\nversion: 1\nrules:\n  - {id: r, action: gate, reason: x}\n  - {id: r, action: gate, reason: y}\n",
            "rule ids used twice: r",
        ),
        ("id: x\nversion: 1\nrules: []\n", "rules: a non-empty list"),
        ("version: 1\nrules: []\n", "a policy needs 'id'"),
        ("id: x\nversion: 1\nrulez: []\n", r"unknown top-level keys \['rulez'\]"),
        (
            "id: x\nversion: 1\nrules:\n  - id: r\n    action: gate\n   reason: x\n",
            r"policy.yaml:\d+: not valid YAML",
        ),
        ("- just\n- a list\n", "a policy is a YAML mapping"),
        (
            "id: x\nversion: 1\nextends: default\ndisable: [no-such-rule]\n",
            "no rule 'no-such-rule' in the base",
        ),
        (
            "id: x\nversion: 1\ndisable: [a]\nrules: [{id: r, action: gate, reason: x}]\n",
            "disable: only with 'extends'",
        ),
        (
            "id: x\nversion: 1\nfacts: {compute_tiers: {a: -1}}\nrules: [{id: r, action: gate, reason: x}]\n",
            "compute_tiers",
        ),
        (
            "id: x\nversion: 1\nfacts: {card_checklist: [vibes]}\nrules: [{id: r, action: gate, reason: x}]\n",
            "unknown item 'vibes'",
        ),
        (
            "id: x\nversion: 1\nschema_version: 9\nrules: [{id: r, action: gate, reason: x}]\n",
            "schema_version must be 1",
        ),
        (
            "id: x\nversion: 1\nrules: [{id: r, action: gate, reason: x, access: secret}]\n",
            "access must be one of",
        ),
    ],
)
def test_bad_policy_files_name_file_line_and_problem(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:
        load_policy(write(tmp_path, text))
    assert str(tmp_path / "policy.yaml") in str(info.value)
    assert isinstance(info.value, WeightwatchError) and "Traceback" not in info.value.diagnostics()


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_extends_disable_and_facts_settings(tmp_path: Path) -> None:
    (tmp_path / "house.yaml").write_text(
        "licences:\n  - id: house\n    name: House\n    url: u\n    commercial_use: allowed\n"
        "    hf_ids: [house]\n    obligations: []\n"
    )
    base = tmp_path / "base.yaml"
    base.write_text(
        "id: base\nversion: 1\nextends: default\ndisable: [card-incomplete, scan-missing]\n"
        "facts:\n  compute_tiers: {small: 1.0e+20}\n  card_checklist: [licence]\n  licence_files: [house.yaml]\n"
        "rules:\n  - {id: any-tier, when: {fact: compute.tier, exists: true}, action: gate, reason: 'tier {compute.tier}'}\n"
    )
    child = write(
        tmp_path,
        "id: child\nversion: 3\nextends: base.yaml\nrules:\n  - {id: any-tier, action: block, reason: always}\n",
    )
    p = load_policy(child)
    ids = [r.id for r in p.rules]
    assert "card-incomplete" not in ids and "scan-missing" not in ids and ids[-1] == "any-tier"
    assert p.rules[-1].action == "block"
    assert dict(p.facts_config.tiers) == {"small": 1e20}
    assert [c.id for c in p.facts_config.checklist] == ["licence"]
    assert p.facts_config.licences().resolve("house") is not None
    assert (p.id, p.version) == ("child", "3") and p.digest != load_policy(base).digest


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("id: a\nversion: 1\nextends: a.yaml\nrules: [{id: r, action: gate, reason: x}]\n")
    with pytest.raises(PolicyError, match="nests more than 8 deep"):
        load_policy(a)


def test_default_policy_covers_the_brief() -> None:
    ids = {r.id for r in DEFAULT.rules}
    assert {
        "scan-code-execution",
        "parent-withdrawn",
        "parent-gated",
        "parent-restricted",
        "lineage-undeclared",
        "lineage-misdeclared",
        "licence-obligation-unmet",
        "compute-systemic-risk",
        "audit-safety-stripped",
        "card-incomplete",
    } <= ids
