"""Compute estimates against published figures (parameters from configs, 6·N·D)."""

from __future__ import annotations

import pytest

from weightwatch.policy.compute import (
    count_parameters,
    declared_tokens,
    estimate,
    params_from_config,
    parse_quantity,
)

LLAMA2_7B = dict(
    model_type="llama",
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    vocab_size=32000,
    tie_word_embeddings=False,
)
LLAMA31_405B = dict(
    model_type="llama",
    hidden_size=16384,
    intermediate_size=53248,
    num_hidden_layers=126,
    num_attention_heads=128,
    num_key_value_heads=8,
    vocab_size=128256,
    tie_word_embeddings=False,
)
MIXTRAL_8X7B = dict(
    model_type="mixtral",
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=32000,
    num_local_experts=8,
    num_experts_per_tok=2,
    tie_word_embeddings=False,
)
DEEPSEEK_V3 = dict(
    model_type="deepseek_v3",
    hidden_size=7168,
    intermediate_size=18432,
    moe_intermediate_size=2048,
    num_hidden_layers=61,
    num_attention_heads=128,
    num_key_value_heads=128,
    vocab_size=129280,
    n_routed_experts=256,
    n_shared_experts=1,
    num_experts_per_tok=8,
    first_k_dense_replace=3,
    q_lora_rank=1536,
    kv_lora_rank=512,
    qk_nope_head_dim=128,
    qk_rope_head_dim=64,
    v_head_dim=128,
    tie_word_embeddings=False,
)


def test_llama2_7b_config_and_flop() -> None:
    p = params_from_config(LLAMA2_7B)
    assert p is not None and p.total == pytest.approx(6.74e9, rel=0.005)
    e = estimate(p, parameter_source="config", tokens=(2e12, "card:training_tokens"))
    assert e.estimated_flop == pytest.approx(8.0e22, rel=0.02)
    assert e.tier is None and all(t.exceeded is False for t in e.tiers)
    assert any("6 · N · D" in a for a in e.assumptions)


def test_llama31_405b_reaches_eu_tier() -> None:
    p = params_from_config(LLAMA31_405B)
    assert p is not None and p.total == pytest.approx(405e9, rel=0.01)
    e = estimate(p, parameter_source="config", tokens=(15.6e12, "card:training_tokens"))
    assert e.flop == pytest.approx(3.8e25, rel=0.02)
    assert e.tier == "eu-systemic-risk-1e25"
    assert [t.exceeded for t in e.tiers] == [True, True, True, False]


def test_mixtral_active_parameters() -> None:
    p = params_from_config(MIXTRAL_8X7B)
    assert p is not None
    assert p.total == pytest.approx(46.7e9, rel=0.005)
    assert p.active == pytest.approx(12.9e9, rel=0.005)
    assert (p.num_experts, p.experts_per_token) == (8, 2)


def test_deepseek_v3_mla_and_shared_experts() -> None:
    p = params_from_config(DEEPSEEK_V3)
    assert p is not None
    assert p.total == pytest.approx(671e9, rel=0.005)
    assert p.active == pytest.approx(37e9, rel=0.02)


def _mixtral_tensors(layers: int = 2, experts: int = 8, h: int = 8, i: int = 16):
    out = [("model.embed_tokens.weight", 100 * h, "BF16"), ("lm_head.weight", 100 * h, "BF16")]
    for layer in range(layers):
        p = f"model.layers.{layer}"
        out += [(f"{p}.self_attn.{m}.weight", h * h, "BF16") for m in "qkvo"]
        out.append((f"{p}.block_sparse_moe.gate.weight", h * experts, "BF16"))
        for e in range(experts):
            out += [
                (f"{p}.block_sparse_moe.experts.{e}.w{j}.weight", h * i, "BF16") for j in (1, 2, 3)
            ]
    return out


def test_count_parameters_mixtral_names() -> None:
    tensors = _mixtral_tensors()
    total = sum(n for _, n, _ in tensors)
    routed = 2 * 8 * 3 * 8 * 16
    c = count_parameters(tensors, num_experts=8, experts_per_token=2)
    assert c.total == total and c.routed == routed
    assert c.active == total - routed + routed * 2 // 8


def test_count_parameters_counts_experts_without_config_but_needs_k() -> None:
    c = count_parameters(_mixtral_tensors())
    assert c.num_experts == 8 and c.active is None
    assert any("experts per token unknown" in n for n in c.notes)


def test_shared_experts_and_gguf_stacked_experts_are_classified() -> None:
    tensors = [
        ("model.layers.0.mlp.shared_expert.up_proj.weight", 100, "F16"),  # Qwen2-MoE
        ("model.layers.0.mlp.shared_experts.down_proj.weight", 100, "F16"),  # DeepSeek
        ("model.layers.0.mlp.experts.3.up_proj.weight", 40, "F16"),
        ("blk.1.ffn_up_exps.weight", 400, "Q4_K"),  # GGUF: all experts in one tensor
        ("blk.1.ffn_up_shexp.weight", 50, "Q4_K"),
        ("model.layers.1.feed_forward.experts.gate_up_proj", 80, "BF16"),  # Llama 4 stacked
    ]
    c = count_parameters(tensors, num_experts=4, experts_per_token=1)
    assert c.routed == 40 + 400 + 80
    assert c.active == 250 + (40 + 400 + 80) // 4


def test_quantization_side_tensors_and_packed_weights() -> None:
    tensors = [
        ("l.0.q_proj.qweight", 64, "I32"),
        ("l.0.q_proj.scales", 16, "F16"),
        ("l.0.q_proj.qzeros", 8, "I32"),
        ("l.0.q_proj.g_idx", 64, "I32"),
        ("l.1.weight", 50, "U8"),
        ("l.1.weight.quant_state.bitsandbytes__nf4", 10, "U8"),
        ("l.1.weight.absmax", 4, "F32"),
    ]
    c = count_parameters(tensors, quant_bits=4)
    assert c.total == 64 * 8 + 50 * 2


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2T", 2e12),
        ("15.6T tokens", 15.6e12),
        ("2 trillion", 2e12),
        ("1,400,000,000,000", 1.4e12),
        ("500B", 5e11),
        ("3.8e25 FLOP", 3.8e25),
        (2e12, 2e12),
        (7, 7.0),
    ],
)
def test_parse_quantity(text: object, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["lots", "", "-5T", True, None, 0, float("nan"), [1]])
def test_parse_quantity_rejects(bad: object) -> None:
    assert parse_quantity(bad) is None


def test_declared_tokens_sources_and_derivative_keys() -> None:
    front = {"training_tokens": "15T", "finetuning_tokens": "1B"}
    assert declared_tokens(front, {}, derivative=False) == (15e12, "card:training_tokens")
    assert declared_tokens(front, {}, derivative=True) == (1e9, "card:finetuning_tokens")
    assert declared_tokens({"training": {"tokens": 3e9}}, {}, derivative=False) == (
        3e9,
        "card:training.tokens",
    )
    assert declared_tokens({}, {"training_tokens": 5e9}, derivative=False) == (
        5e9,
        "config:training_tokens",
    )
    assert declared_tokens({}, {}, derivative=False) is None


def test_derivative_modification_against_one_third_of_base() -> None:
    p = params_from_config(LLAMA2_7B)
    small = estimate(
        p, parameter_source="config", tokens=(1e9, "x"), base_flop=8e22, derivative=True
    )
    assert small.modification is not None and small.modification.exceeds_fraction is False
    assert small.flop == pytest.approx(8e22 + 6 * p.active * 1e9)  # type: ignore[union-attr]
    big = estimate(
        p, parameter_source="config", tokens=(1e12, "x"), base_flop=8e22, derivative=True
    )
    assert big.modification is not None and big.modification.exceeds_fraction is True
    assert big.modification.ratio == pytest.approx(6 * p.active * 1e12 / 8e22)  # type: ignore[union-attr]
    unknown = estimate(p, parameter_source="config", tokens=(1e12, "x"), derivative=True)
    assert unknown.modification is not None and unknown.modification.exceeds_fraction is None
    assert unknown.flop is None and unknown.tier is None


def test_declared_flop_wins_over_estimate_and_custom_tiers() -> None:
    p = params_from_config(LLAMA2_7B)
    e = estimate(
        p,
        parameter_source="config",
        tokens=(2e12, "x"),
        declared=(2e25, "card:training_compute_flop"),
        tiers={"mine": 1e22},
    )
    assert e.own_flop == 2e25 and e.estimated_flop == pytest.approx(8.09e22, rel=0.01)
    assert e.tier == "mine" and [t.name for t in e.tiers] == ["mine"]


def test_no_parameters_no_estimate() -> None:
    e = estimate(None, parameter_source="weights", tokens=(1e12, "x"))
    assert e.parameter_source == "none" and e.flop is None and e.estimated_flop is None
    assert params_from_config({"model_type": "llama"}) is None


def test_eu_gpai_indicative_criterion_is_a_default_tier() -> None:
    from weightwatch.policy.compute import DEFAULT_TIERS

    assert DEFAULT_TIERS["eu-gpai-indicative-1e23"] == 1e23
    p = params_from_config(LLAMA2_7B)
    e = estimate(p, parameter_source="config", tokens=(2e12, "card:training_tokens"))
    # 6 · 6.74e9 · 2e12 ≈ 8.1e22: a 7B on 2T tokens is just under the GPAI criterion
    assert next(t for t in e.tiers if t.name == "eu-gpai-indicative-1e23").exceeded is False


def test_without_tokens_the_parameters_alone_bound_the_tier() -> None:
    """Issue #18: compute was null for every model without declared tokens."""
    from weightwatch.policy.compute import MAX_PLAUSIBLE_TOKENS, ParamCount

    small = ParamCount(134_515_008, 134_515_008, 0, None, None, ())
    e = estimate(small, parameter_source="weights", tokens=None)
    assert e.flop is None and e.max_tokens == MAX_PLAUSIBLE_TOKENS
    assert e.bound_flop == pytest.approx(6 * 134_515_008 * MAX_PLAUSIBLE_TOKENS)
    assert all(t.exceeded is False and t.basis == "bound" for t in e.tiers)
    assert "below every threshold for any plausible token count" in e.tier_summary
    # a 7B: 6 · 6.7e9 · 1e14 = 4e24, so only the 1e25 and 1e26 tiers are settled
    big = estimate(params_from_config(LLAMA2_7B), parameter_source="config", tokens=None)
    settled = {t.name: t.exceeded for t in big.tiers}
    assert settled == {
        "eu-gpai-indicative-1e23": None,
        "licensing-debate-1e24": None,
        "eu-systemic-risk-1e25": False,
        "us-reporting-1e26": False,
    }
    assert "below eu-systemic-risk-1e25 and up" in big.tier_summary
    assert any("D_max" in a for a in big.assumptions)


def test_known_model_table_finds_published_token_counts() -> None:
    from weightwatch.policy.known_models import known_tokens

    found = known_tokens(["SmolLM2-135M-Instruct"])
    assert found is not None and found[0] == 2e12 and "SmolLM2" in found[1]
    gemma = known_tokens(["gemma-3 270M"])
    assert gemma is not None and gemma[0] == 6e12
    one_b = known_tokens(["gemma-3 1B"])
    assert one_b is not None and one_b[0] == 2e12 and "Gemma 3" in one_b[1]
    assert known_tokens(["my-llama-7b"]) is None
