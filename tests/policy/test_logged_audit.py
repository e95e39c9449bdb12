"""A policy can require a signed audit in the registry's log for a tier (issue 22)."""

from __future__ import annotations

from tests.policy.helpers import make_facts
from weightwatch.policy import evaluate, loads_policy

REQUIRE_LOGGED = loads_policy(
    "id: logged-audits\nversion: 1\nextends: default\nrules:\n"
    "  - id: open-needs-logged-audit\n"
    "    when: {all: [{fact: subject.access, eq: public}, "
    "{not: {fact: audit.logged, eq: true}}]}\n"
    "    action: gate\n"
    "    reason: 'audit: an open release needs a signed audit in the log'\n"
)
EQUIVALENT = {
    "verdict": "equivalent",
    "base": "org/base@1",
    "p_stripped": 0.4,
    "over_refusal_verdict": None,
}


def test_a_public_release_without_a_logged_audit_is_gated() -> None:
    for audit in (None, EQUIVALENT):  # no audit, or one attached unsigned
        decision = evaluate(make_facts(audit=audit), REQUIRE_LOGGED)
        assert decision.action == "gate"
        assert any(r.rule_id == "open-needs-logged-audit" for r in decision.reasons)


def test_a_logged_audit_satisfies_the_rule() -> None:
    facts = make_facts(audit={**EQUIVALENT, "logged": True})
    assert facts.audit is not None and facts.audit.logged
    decision = evaluate(facts, REQUIRE_LOGGED)
    assert all(r.rule_id != "open-needs-logged-audit" for r in decision.reasons)


def test_other_tiers_are_not_held() -> None:
    decision = evaluate(make_facts(access="gated"), REQUIRE_LOGGED)
    assert all(r.rule_id != "open-needs-logged-audit" for r in decision.reasons)


def test_an_abliteration_signature_quarantines() -> None:
    from weightwatch.policy import load_policy
    from weightwatch.policy.facts import ForensicsFacts

    facts = make_facts()
    abliterated = facts.model_copy(
        update={
            "forensics": ForensicsFacts(
                derivation="abliterated",
                base="org/base@1",
                abliteration_score=1.0,
                direction_consistency=1.0,
            )
        }
    )
    decision = evaluate(type(facts).model_validate(abliterated.model_dump()), load_policy())
    assert decision.action == "quarantine"
    assert any(r.rule_id == "forensics-abliterated" for r in decision.reasons)
    lora = abliterated.model_dump()
    lora["forensics"] = {**lora["forensics"], "derivation": "lora", "abliteration_score": 0.0}
    quiet = evaluate(type(facts).model_validate(lora), load_policy())
    assert all(r.rule_id != "forensics-abliterated" for r in quiet.reasons)
