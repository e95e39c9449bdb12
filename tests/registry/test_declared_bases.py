"""One rule for declared base models, on SQLite and on PostgreSQL: the lineage step's
report and edges and the policy's facts say the same thing (they once disagreed for an
adapter whose card names no base, or names another one than its config)."""

from __future__ import annotations

import pytest

from tests.registry.conftest import with_card

pytestmark = pytest.mark.slow

BASE = "weightwatch-testing/tiny-llama-s0"  # what the family's adapter config names


def _declared(registry, ref):  # type: ignore[no-untyped-def]
    vid = registry.version_id(ref)
    lineage, facts = registry.report(vid, "lineage"), registry.report(vid, "facts")
    edges = [(p.model, p.relation) for p in registry.status(ref).parents if p.kind == "declared"]
    return lineage, facts["subject"], facts["lineage"], edges


def test_adapter_without_card_base_declares_its_configs_base(registry, llama_family, tmp_path):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, BASE)
    bare = with_card(llama_family.lora_adapter, tmp_path / "bare", base_model=None, relation=None)
    assert registry.register(bare, "org/lora").state == "complete"
    lineage, subject, facts_lineage, edges = _declared(registry, "org/lora")
    assert (lineage["declared"], lineage["declared_relation"]) == ([BASE], "adapter")
    assert (subject["declared_base_models"], subject["declared_relation"]) == ([BASE], "adapter")
    assert edges == [(f"{BASE}@1", "adapter")]
    assert {p["name"]: p["declared"] for p in facts_lineage["parents"]} == {f"{BASE}@1": True}


def test_card_base_wins_over_the_adapter_config(registry, llama_family, tmp_path):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, BASE)
    registry.register(llama_family.finetune, "org/ft")
    other = with_card(
        llama_family.lora_adapter, tmp_path / "other", base_model="org/ft", relation=None
    )
    assert registry.register(other, "org/lora").state == "complete"
    lineage, subject, _, edges = _declared(registry, "org/lora")
    assert (lineage["declared"], lineage["declared_relation"]) == (["org/ft"], None)
    assert (subject["declared_base_models"], subject["declared_relation"]) == (["org/ft"], None)
    assert edges == [("org/ft@1", "unspecified")]
