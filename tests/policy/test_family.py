"""Facts and decisions from real artifacts: the tiny llama family, edited copies of it,
a pickle payload and a hand-made mixture-of-experts checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from weightwatch.policy import ParentRecord, evaluate, facts_for, load_policy
from weightwatch.testing.pickle_bytes import call, torch_zip

POLICY = load_policy()
BASE = "weightwatch-testing/tiny-llama-s0"
LLAMA_TEXT = "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n..."
LLAMA_NOTICE = "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved.\n"


def test_base_facts(llama_family) -> None:  # type: ignore[no-untyped-def]
    facts = facts_for(llama_family.base)
    assert facts.subject.name == BASE and facts.subject.family == "llama"
    assert facts.scan is not None and facts.scan.verdict == "clean"
    assert not facts.lineage.is_derivative and facts.lineage.parents == []
    assert facts.compute.parameter_source == "weights"
    assert facts.compute.total_parameters == facts.compute.active_parameters == 656000
    assert facts.licence.declared_id == "apache-2.0"
    assert facts.card.missing == ["intended_use", "limitations", "training_data", "evaluation"]
    d = evaluate(facts, POLICY)
    assert d.action == "publish" and {r.rule_id for r in d.reasons} == {
        "licence-obligation-advisory",
        "card-incomplete",
    }
    assert json.loads(facts.canonical()) == facts.to_json()


@pytest.mark.parametrize("member", ["finetune", "int8", "merged", "permuted", "lora_adapter"])
def test_derivatives_declare_their_base(llama_family, member: str) -> None:  # type: ignore[no-untyped-def]
    facts = facts_for(getattr(llama_family, member))
    assert facts.lineage.is_derivative
    assert [p.name for p in facts.lineage.parents] == [BASE]
    assert facts.lineage.parents[0].declared and not facts.lineage.parents[0].detected
    assert "base_model" not in facts.card.missing
    if member == "lora_adapter":
        assert facts.subject.is_adapter and facts.compute.total_parameters == 7168


def test_detected_but_undeclared_parent_is_gated(llama_family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The "independent" model's card declares nothing; pretend lineage matched it.
    lineage = {
        "verdict": "derived",
        "relation": "finetune",
        "parents": [{"name": f"{BASE}@1", "relation": "finetune", "score": 0.97, "p_value": 1e-20}],
        "disagreements": ["derived (finetune) but the card declares no base_model"],
    }
    facts = facts_for(
        llama_family.independent,
        lineage=lineage,
        parents=[
            ParentRecord(
                name=f"{BASE}@1", status="taken_down", license="apache-2.0", kind="detected"
            )
        ],
    )
    d = evaluate(facts, POLICY)
    assert d.action == "quarantine"
    rules = {r.rule_id for r in d.reasons}
    assert {"parent-withdrawn", "lineage-undeclared"} <= rules
    assert "lineage-misdeclared" not in rules  # the same finding, not a second one (#18)


def _llama_derivative(src: Path, dest: Path, *, compliant: bool) -> Path:
    shutil.copytree(src, dest)
    card = (dest / "README.md").read_text()
    card = card.replace("license: apache-2.0", "license: llama3.1")
    card = card.replace(f"- {BASE}", "- meta-llama/Llama-3.1-8B")
    if compliant:
        card = card.replace("A tiny test model.", "A tiny test model. Built with Llama.")
        card = card.replace(f"# {BASE}-finetune", "# Llama-3.1-tiny-acme")
        (dest / "LICENSE").write_text(LLAMA_TEXT)
        (dest / "NOTICE").write_text(LLAMA_NOTICE)
    (dest / "README.md").write_text(card)
    return dest


def test_llama_derivative_missing_obligations_is_gated_with_clauses(
    llama_family, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = _llama_derivative(llama_family.finetune, tmp_path / "ft", compliant=False)
    facts = facts_for(path)
    assert ("llama3.1", "base name meta-llama/Llama-3.1-8B") in {
        (s.licence, s.via) for s in facts.licence.applicable
    }
    d = evaluate(facts, POLICY)
    assert d.action == "gate"
    unmet = [r.message for r in d.reasons if r.rule_id == "licence-obligation-unmet"]
    assert len(unmet) == 4
    assert any("§1.b.i(A): provide a copy of this Agreement" in m for m in unmet)
    assert any("§1.b.i: derivative name must begin with 'Llama'" in m for m in unmet)


def test_compliant_llama_derivative_is_published(llama_family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _llama_derivative(llama_family.finetune, tmp_path / "ft", compliant=True)
    facts = facts_for(path)
    assert facts.subject.name == "Llama-3.1-tiny-acme"
    assert facts.licence.unmet_required == 0 and not facts.licence.conflicts
    d = evaluate(facts, POLICY)
    assert d.action == "publish", d.reasons
    # The registry name wins over the card heading, and is what §1.b.i is checked on.
    renamed = evaluate(facts_for(path, name="acme/tiny-chat"), POLICY)
    assert renamed.action == "gate"


def test_pickle_payload_is_blocked(llama_family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "evil"
    shutil.copytree(llama_family.base, path)
    (path / "pytorch_model.bin").write_bytes(torch_zip(call("os", "system", "echo owned")))
    d = evaluate(facts_for(path), POLICY)
    assert d.action == "block"
    assert any(
        r.rule_id == "scan-code-execution" and "pytorch_model.bin" in r.message for r in d.reasons
    )


def test_gguf_file_has_parameters_but_no_card(llama_family) -> None:  # type: ignore[no-untyped-def]
    facts = facts_for(llama_family.gguf_q8_0)
    assert facts.compute.total_parameters == 656000
    assert not facts.card.present and "licence" in facts.card.missing


def test_moe_checkpoint_active_parameters_and_declared_tokens(tmp_path: Path) -> None:
    h, i, experts = 8, 16, 4
    tensors: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": np.zeros((50, h), np.float32),
        "lm_head.weight": np.ones((50, h), np.float32),
    }
    for layer in range(2):
        p = f"model.layers.{layer}"
        for m in "qkvo":
            tensors[f"{p}.self_attn.{m}_proj.weight"] = np.zeros((h, h), np.float32)
        tensors[f"{p}.block_sparse_moe.gate.weight"] = np.zeros((experts, h), np.float32)
        for e in range(experts):
            for w in ("w1", "w2", "w3"):
                tensors[f"{p}.block_sparse_moe.experts.{e}.{w}.weight"] = np.zeros(
                    (i, h), np.float32
                )
    save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "mixtral",
                "hidden_size": h,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "vocab_size": 50,
                "intermediate_size": i,
                "num_local_experts": experts,
                "num_experts_per_tok": 2,
                "tie_word_embeddings": False,
            }
        )
    )
    (tmp_path / "README.md").write_text(
        "---\nlicense: apache-2.0\ntraining_tokens: 2T\n---\n# acme/moe\n"
    )
    facts = facts_for(tmp_path)
    c = facts.compute
    total = sum(t.size for t in tensors.values())
    routed = 2 * experts * 3 * i * h
    assert c.is_moe and c.total_parameters == total and c.expert_parameters == routed
    assert c.active_parameters == total - routed + routed // 2
    assert c.training_tokens == 2e12 and c.token_source == "card:training_tokens"
    assert c.estimated_flop == pytest.approx(6 * c.active_parameters * 2e12)


def test_config_only_folder_is_placed_in_its_tier(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "hidden_size": 16384,
                "intermediate_size": 53248,
                "num_hidden_layers": 126,
                "num_attention_heads": 128,
                "num_key_value_heads": 8,
                "vocab_size": 128256,
                "tie_word_embeddings": False,
            }
        )
    )
    (tmp_path / "README.md").write_text(
        "---\nlicense: llama3.1\ntraining_tokens: 15.6T\n---\n# Llama-3.1-405B\n"
    )
    facts = facts_for(tmp_path)
    assert facts.compute.parameter_source == "config"
    assert facts.compute.tier == "eu-systemic-risk-1e25"
    d = evaluate(facts, POLICY)
    assert "compute-systemic-risk" in {r.rule_id for r in d.reasons}
