"""The registry→policy seam: the typed context, the views of stored reports (pinned to the
JSON the policy itself writes), and the one rule for declared base models."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.policy.helpers import make_facts
from weightwatch.artifacts import open_artifact
from weightwatch.errors import UsageError
from weightwatch.policy import (
    DeclaredBases,
    ParentRecord,
    PolicyContext,
    StoredDecision,
    StoredFacts,
    build_facts,
    context_facts,
    declared_bases,
    evaluate,
    facts_for,
    load_policy,
)
from weightwatch.policy.context import parse_access

BASE = "weightwatch-testing/tiny-llama-s0"


def _recard(src: Path, dest: Path, base_model: str | None) -> Path:
    """A copy of ``src`` whose card declares ``base_model`` (or no base model at all)."""
    shutil.copytree(src, dest)
    readme = dest / "README.md"
    text = re.sub(r"(?m)^base_model:.*\n(?:- .*\n)*", "", readme.read_text())
    text = re.sub(r"(?m)^base_model_relation:.*\n", "", text)
    if base_model:
        text = text.replace("---\n", f"---\nbase_model: {base_model}\n", 1)
    readme.write_text(text)
    return dest


# -- declared base models ---------------------------------------------------------------


def test_card_declares_the_bases(llama_family) -> None:  # type: ignore[no-untyped-def]
    assert declared_bases(open_artifact(llama_family.finetune)) == DeclaredBases(
        (BASE,), "finetune"
    )
    assert declared_bases(open_artifact(llama_family.base)) == DeclaredBases((), None)
    # an adapter whose card names its base keeps the card's relation
    assert declared_bases(open_artifact(llama_family.lora_adapter)) == DeclaredBases(
        (BASE,), "adapter"
    )


def test_adapter_without_card_base_declares_its_configs_base(llama_family, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The one rule: no ``base_model`` in the card → the adapter config's base, relation
    ``adapter`` — in the facts as in the registry's lineage report (tests/registry)."""
    bare = _recard(llama_family.lora_adapter, tmp_path / "bare", None)
    assert declared_bases(open_artifact(bare)) == DeclaredBases((BASE,), "adapter")
    facts = facts_for(bare)
    assert facts.subject.declared_base_models == [BASE]
    assert facts.subject.declared_relation == "adapter"
    (parent,) = facts.lineage.parents
    assert parent.name == BASE and parent.declared and not parent.detected


def test_card_base_wins_over_the_adapter_config(llama_family, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A card naming another base is the declaration; the config's base is not added."""
    other = _recard(llama_family.lora_adapter, tmp_path / "other", "org/ft")
    assert declared_bases(open_artifact(other)) == DeclaredBases(("org/ft",), None)
    facts = facts_for(other)
    assert facts.subject.declared_base_models == ["org/ft"]
    assert [p.name for p in facts.lineage.parents] == ["org/ft"]


# -- views of stored reports ------------------------------------------------------------


def _inheriting_facts():  # type: ignore[no-untyped-def]
    return make_facts(
        license="llama3.1",
        declared=["meta/base"],
        parents=[ParentRecord(name="meta/base", license="llama3.1", inherited_licences=("mit",))],
        tokens=1e12,
    )


def test_stored_facts_read_the_keys_facts_write() -> None:
    facts = _inheriting_facts()
    stored = StoredFacts.from_json(facts.to_json())
    assert stored.declared_license == facts.subject.declared_license == "llama3.1"
    assert stored.license_name == facts.subject.license_name
    assert stored.inherited_licences == tuple(s.licence for s in facts.licence.applicable)
    assert "mit" in stored.inherited_licences
    assert stored.own_flop == facts.compute.own_flop and stored.own_flop
    assert StoredFacts.from_json({}) == StoredFacts()


def test_stored_decision_reads_the_keys_decisions_write() -> None:
    facts = make_facts(
        parents=[ParentRecord(name="org/base@1", status="taken_down", license="mit")],
        declared=["org/base"],
    )
    policy = load_policy()
    first = evaluate(facts, policy)
    held = [(r.rule_id, r.message) for r in first.reasons if r.action == "quarantine"]
    assert held, "the scenario must quarantine"
    assert StoredDecision.from_json(first.to_json()) == StoredDecision((), tuple(held))
    released = evaluate(facts, policy, waive=held)
    assert StoredDecision.from_json(released.to_json()) == StoredDecision(tuple(held), ())


# -- parents and the context ------------------------------------------------------------

EDGE = {
    "name": "meta/base@1",
    "status": "gated",
    "access": "gated",
    "kind": "declared",
    "relation": "finetune",
    "score": None,
    "p_value": None,
}


def test_parent_record_from_stored_facts_and_files() -> None:
    facts = _inheriting_facts()
    record = ParentRecord.from_stored(**EDGE, facts=facts.to_json(), files=["NOTICE", "w.bin"])
    assert (record.name, record.status, record.kind, record.relation) == (
        "meta/base@1",
        "gated",
        "declared",
        "finetune",
    )
    assert record.license == "llama3.1" and "mit" in record.inherited_licences
    assert record.training_compute_flop == facts.compute.own_flop
    assert record.files == ("NOTICE", "w.bin")
    assert ParentRecord.from_stored(**EDGE, facts=facts.to_json(), files=[]).files is None
    bare = ParentRecord.from_stored(**EDGE, facts=None, files=["NOTICE"])
    assert bare == ParentRecord(**EDGE)  # no stored facts: standing only, files unknown


def test_context_facts_are_build_facts_of_the_context(llama_family) -> None:  # type: ignore[no-untyped-def]
    parent = ParentRecord(name=f"{BASE}@1", status="taken_down", license="apache-2.0")
    context = PolicyContext(label="org/ft@3", access="gated", scan={"files": []}, parents=(parent,))
    assert context.name == "org/ft"
    art = open_artifact(llama_family.finetune)
    got = context_facts(art, context)
    want = build_facts(art, name="org/ft", access="gated", scan={"files": []}, parents=[parent])
    assert got.canonical() == want.canonical()


def test_access_is_parsed_once() -> None:
    assert parse_access("restricted") == "restricted"
    with pytest.raises(UsageError, match="access must be one of public, gated, restricted"):
        parse_access("secret")
