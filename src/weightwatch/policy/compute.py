"""Training-compute estimates: parameters (total and active), tokens, 6·N·D, and tiers.

The figure regulators use is training compute in FLOP. Nobody can measure it from the
weights, so the estimate is the usual 6·N·D (forward and backward pass, N the parameters
*active* per token, D the training tokens), with every assumption written into the
result so a reviewer can see where the number came from. Parameters come from the
tensors when weights are present (tied embeddings once, quantization scales skipped,
packed int4 expanded) and from ``config.json`` otherwise, so a config alone is enough to
place a 400B model in its tier. Tokens are only ever *declared*: see ``declared_tokens``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

# The thresholds of the public debate; every one can be replaced through FactsConfig.
DEFAULT_TIERS: dict[str, float] = {
    # EU Commission guidelines for GPAI providers (July 2025): a model trained with more
    # than 10^23 FLOP that can generate language (text or audio), text-to-image or
    # text-to-video is indicatively a general-purpose AI model.
    "eu-gpai-indicative-1e23": 1e23,
    "licensing-debate-1e24": 1e24,  # a licensing threshold proposed in the public debate
    "eu-systemic-risk-1e25": 1e25,  # EU AI Act Art. 51(2): presumption of systemic risk
    "us-reporting-1e26": 1e26,  # the 2023 US executive order's reporting threshold
}
MODIFICATION_FRACTION = 1.0 / 3.0  # EU GPAI guidelines: a modifier becomes a provider above
# The most training tokens any model plausibly saw: 100T, several times the largest
# published pretraining runs (Qwen3: 36T; Llama 4: ~40T). 6·N·MAX bounds the compute of
# a model whose tokens nobody states.
MAX_PLAUSIBLE_TOKENS = 1e14

# Routed experts: one tensor per expert (Mixtral, Qwen-MoE, DeepSeek), or every expert
# stacked in one tensor (Llama 4, gpt-oss, GGUF ``*_exps``). Shared experts run for every
# token, so they count as active.
_SHARED = re.compile(r"shared_experts?\b|shared_expert_gate|_shexp\b")
_ROUTED = re.compile(
    r"\.experts\.\d+\."
    r"|\.experts\.(gate_up_proj|gate_proj|up_proj|down_proj|w1|w2|w3)\b"
    r"|\.ffn_(gate|up|down|gate_up)_exps\."
)
# Quantization side tensors: scales, zero points, permutations, not parameters.
_AUX = re.compile(
    r"\.(scales|qzeros|g_idx|absmax|quant_map|nested_absmax|nested_quant_map|SCB|"
    r"weight_scale|weight_zero_point|input_scale|weight_scale_inv)$|\.quant_state\."
)
_GATED_MLP_EXCLUDED = frozenset(
    {"gpt2", "gpt_neox", "gptj", "opt", "bloom", "falcon", "phi", "starcoder2", "gpt_bigcode"}
)


class TierResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    threshold_flop: float
    exceeded: bool | None  # None: neither a figure nor the bound settles it
    basis: str | None = None  # "declared" | "estimate" | "bound" (6·N·MAX_PLAUSIBLE_TOKENS)


class Modification(BaseModel):
    """A derivative's own training against its base's (EU guidance for providers)."""

    model_config = ConfigDict(frozen=True)

    modification_flop: float | None
    base_flop: float | None
    ratio: float | None
    threshold_fraction: float = MODIFICATION_FRACTION
    exceeds_fraction: bool | None  # None unless both figures are known


class ComputeEstimate(BaseModel):
    """Parameters, tokens and FLOP for one model; ``assumptions`` says how each was got."""

    model_config = ConfigDict(frozen=True)

    total_parameters: int | None
    active_parameters: int | None
    parameter_source: str  # "weights" | "config" | "none"
    is_moe: bool
    num_experts: int | None
    experts_per_token: int | None
    expert_parameters: int | None  # routed experts only
    training_tokens: float | None
    token_source: str | None  # e.g. "card:training_tokens"
    declared_flop: float | None  # a figure the card states outright
    estimated_flop: float | None  # 6 · active parameters · tokens
    own_flop: float | None  # declared if stated, else estimated
    base_flop: float | None  # the base's training compute, for a derivative
    flop: float | None  # the figure tiers are judged on: base + own for a derivative
    tier: str | None  # the highest tier exceeded
    tiers: list[TierResult]
    modification: Modification | None
    assumptions: list[str]
    max_tokens: float | None = None  # D_max behind bound_flop
    bound_flop: float | None = None  # 6 · active parameters · D_max: no model trained more
    tier_summary: str = ""  # one line: the tier and what it rests on


@dataclass(frozen=True)
class ParamCount:
    total: int
    active: int | None
    routed: int
    num_experts: int | None
    experts_per_token: int | None
    notes: tuple[str, ...]


# -- counting --------------------------------------------------------------------------


def _expert_indices(names: Iterable[str]) -> set[int]:
    out: set[int] = set()
    for n in names:
        m = re.search(r"\.experts\.(\d+)\.", n)
        if m:
            out.add(int(m.group(1)))
    return out


def count_parameters(
    tensors: Iterable[tuple[str, int, str]],
    *,
    num_experts: int | None = None,
    experts_per_token: int | None = None,
    quant_bits: int | None = None,
) -> ParamCount:
    """Count (name, numel, dtype) triples into total and active parameters.

    Active = everything outside the routed experts + routed · k/E. Packed GPTQ/AWQ
    ``qweight`` tensors (int32) hold ``32 / bits`` values each; bitsandbytes 4-bit
    weights (uint8 with a ``quant_state``) hold two.
    """
    items = list(tensors)
    names = {n for n, _, _ in items}
    bnb4 = {n.split(".quant_state.")[0] for n in names if ".quant_state.bitsandbytes__" in n}
    notes: list[str] = []
    total = routed = 0
    skipped = 0
    for name, numel, dtype in items:
        if _AUX.search(name):
            skipped += 1
            continue
        n = numel
        if name.endswith(".qweight") and dtype == "I32":
            n = numel * (32 // (quant_bits or 4))
        elif name in bnb4 and dtype == "U8":
            n = numel * 2
        total += n
        if not _SHARED.search(name) and _ROUTED.search(name):
            routed += n
    if skipped:
        notes.append(f"{skipped} quantization side tensors (scales, zero points) not counted")
    if any(n.endswith(".qweight") for n in names):
        notes.append(f"packed qweight tensors expanded at {quant_bits or 4} bits per value")
    if bnb4:
        notes.append("bitsandbytes 4-bit weights expanded at two values per byte")
    if routed == 0:
        return ParamCount(total, total, 0, None, None, tuple(notes))
    e = num_experts or (len(_expert_indices(names)) or None)
    k = experts_per_token
    if e is None or k is None:
        notes.append("mixture-of-experts tensors found but experts per token unknown")
        return ParamCount(total, None, routed, e, k, tuple(notes))
    active = total - routed + round(routed * k / e)
    notes.append(f"mixture of experts: {k} of {e} routed experts active per token")
    return ParamCount(total, active, routed, e, k, tuple(notes))


def _cfg_int(cfg: Mapping[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _flatten_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    text = raw.get("text_config")
    merged: dict[str, Any] = dict(text) if isinstance(text, Mapping) else {}
    merged.update({k: v for k, v in raw.items() if v is not None})
    return merged


def params_from_config(raw: Mapping[str, Any]) -> ParamCount | None:
    """Parameters of a decoder-only transformer from its ``config.json`` alone.

    Covers GQA/MHA attention and DeepSeek's multi-head latent attention, gated (SwiGLU)
    or plain MLPs, and MoE layers with shared experts and leading dense layers. Biases
    and norms beyond one vector per norm are ignored (well under 0.1% at scale).
    Returns None when the config lacks the sizes.
    """
    c = _flatten_config(raw)
    h = _cfg_int(c, "hidden_size", "n_embd", "d_model")
    layers = _cfg_int(c, "num_hidden_layers", "n_layer", "num_layers")
    vocab = _cfg_int(c, "vocab_size")
    heads = _cfg_int(c, "num_attention_heads", "n_head")
    if not (h and layers and vocab and heads):
        return None
    model_type = str(c.get("model_type") or "")
    kv_heads = _cfg_int(c, "num_key_value_heads") or heads
    head_dim = _cfg_int(c, "head_dim") or h // heads
    inter = _cfg_int(c, "intermediate_size", "n_inner", "ffn_dim") or 4 * h
    mats = 2 if model_type in _GATED_MLP_EXCLUDED else 3
    notes = ["parameters from config.json (no weights read); biases ignored"]

    kv_lora = _cfg_int(c, "kv_lora_rank")
    if kv_lora:  # multi-head latent attention (DeepSeek-V2/V3)
        q_lora = _cfg_int(c, "q_lora_rank")
        nope = _cfg_int(c, "qk_nope_head_dim") or head_dim
        rope = _cfg_int(c, "qk_rope_head_dim") or 0
        v_dim = _cfg_int(c, "v_head_dim") or head_dim
        q = (
            (h * q_lora + q_lora + q_lora * heads * (nope + rope))
            if q_lora
            else h * heads * (nope + rope)
        )
        kv = h * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v_dim)
        attn = q + kv + heads * v_dim * h
        notes.append("multi-head latent attention")
    else:
        attn = h * heads * head_dim + 2 * h * kv_heads * head_dim + heads * head_dim * h
    dense_mlp = mats * h * inter

    experts = _cfg_int(c, "num_local_experts", "num_experts", "n_routed_experts")
    k = _cfg_int(c, "num_experts_per_tok", "moe_topk")
    moe_layers = 0
    moe_total = moe_active = 0
    routed_total = 0
    if experts and experts > 1:
        moe_inter = _cfg_int(c, "moe_intermediate_size") or inter
        expert = mats * h * moe_inter
        shared = 0
        n_shared = _cfg_int(c, "n_shared_experts")
        if n_shared:
            shared = n_shared * expert
        shared_inter = _cfg_int(c, "shared_expert_intermediate_size")
        if shared_inter:
            shared += mats * h * shared_inter + h  # plus its sigmoid gate
        router = h * experts
        first_dense = _cfg_int(c, "first_k_dense_replace") or 0
        step = _cfg_int(c, "decoder_sparse_step", "moe_layer_freq") or 1
        dense_only = c.get("mlp_only_layers")
        dense_set = set(dense_only) if isinstance(dense_only, list) else set()
        moe_layers = sum(
            1
            for i in range(layers)
            if i >= first_dense and (i + 1) % step == 0 and i not in dense_set
        )
        routed_total = moe_layers * experts * expert
        moe_total = moe_layers * (experts * expert + shared + router)
        if k:
            moe_active = moe_layers * (k * expert + shared + router)
    norms = 2 * h
    per_dense = (layers - moe_layers) * (attn + dense_mlp + norms)
    per_moe_common = moe_layers * (attn + norms)
    embed = vocab * h
    tied = c.get("tie_word_embeddings")
    head = 0 if (tied if isinstance(tied, bool) else False) else vocab * h
    positions = 0
    if model_type == "gpt2":
        positions = (_cfg_int(c, "n_positions", "max_position_embeddings") or 0) * h
    common = per_dense + per_moe_common + embed + head + positions + h
    total = common + moe_total
    if not moe_layers:
        return ParamCount(total, total, 0, None, None, tuple(notes))
    if not k:
        notes.append("mixture of experts without experts per token: active unknown")
        return ParamCount(total, None, routed_total, experts, None, tuple(notes))
    notes.append(f"mixture of experts: {k} of {experts} routed experts active per token")
    return ParamCount(total, common + moe_active, routed_total, experts, k, tuple(notes))


# -- tokens ----------------------------------------------------------------------------

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*"
    r"(k|m|b|g|t|p|thousand|million|billion|trillion)?\s*(tokens?|flops?)?\s*$",
    re.IGNORECASE,
)


def parse_quantity(value: Any) -> float | None:
    """``2e12``, ``"15.6T"``, ``"2 trillion tokens"``, ``"1,400,000,000,000"`` → float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value > 0 else None
    if not isinstance(value, str):
        return None
    m = _NUMBER.match(value)
    if not m:
        return None
    try:
        number = float(m.group(1).replace(",", "").replace("_", ""))
    except ValueError:
        return None
    unit = (m.group(2) or "").lower()
    scale = _SUFFIX.get(unit) or _WORDS.get(unit) or 1.0
    out = number * scale
    return out if math.isfinite(out) and out > 0 else None


TOKEN_KEYS = ("training_tokens", "train_tokens", "num_training_tokens", "pretraining_tokens")
MODIFICATION_TOKEN_KEYS = ("finetuning_tokens", "fine_tuning_tokens", "modification_tokens")
FLOP_KEYS = ("training_compute_flop", "training_flop", "training_compute")


def _lookup(
    sources: Sequence[tuple[str, Mapping[str, Any]]], keys: Sequence[str]
) -> tuple[float, str] | None:
    for label, mapping in sources:
        for key in keys:
            q = parse_quantity(mapping.get(key))
            if q is not None:
                return q, f"{label}:{key}"
        nested = mapping.get("training")
        if isinstance(nested, Mapping):
            for key in keys:
                short = key.replace("training_", "").replace("train_", "")
                for k in (key, short):
                    q = parse_quantity(nested.get(k))
                    if q is not None:
                        return q, f"{label}:training.{k}"
    return None


def declared_tokens(
    front_matter: Mapping[str, Any], config: Mapping[str, Any], *, derivative: bool
) -> tuple[float, str] | None:
    """Training tokens a card (front matter) or ``config.json`` declares.

    For a derivative the tokens of *its own* training are wanted: the modification keys
    first (``finetuning_tokens``, ``fine_tuning_tokens``, ``modification_tokens``), then
    ``training_tokens`` and its synonyms, read as the tokens trained on after the base.
    """
    sources = [("card", front_matter), ("config", config)]
    keys = (*MODIFICATION_TOKEN_KEYS, *TOKEN_KEYS) if derivative else TOKEN_KEYS
    return _lookup(sources, keys)


def gguf_tokens(metadata: Mapping[str, Any] | None) -> tuple[float, str] | None:
    """Training tokens a GGUF states (no standard key exists; ``general.training_tokens``
    and its synonyms are read if a converter wrote one)."""
    if not metadata:
        return None
    flat = {k.removeprefix("general."): v for k, v in metadata.items()}
    return _lookup([("gguf", flat)], TOKEN_KEYS)


def declared_flop(front_matter: Mapping[str, Any]) -> tuple[float, str] | None:
    return _lookup([("card", front_matter)], FLOP_KEYS)


# -- the estimate ----------------------------------------------------------------------


def estimate(
    params: ParamCount | None,
    *,
    parameter_source: str,
    tokens: tuple[float, str] | None,
    declared: tuple[float, str] | None = None,
    base_flop: float | None = None,
    derivative: bool = False,
    tiers: Mapping[str, float] | None = None,
    extra_notes: Sequence[str] = (),
) -> ComputeEstimate:
    """6·N·D from parameter counts and declared tokens, judged against ``tiers``."""
    tiers = dict(DEFAULT_TIERS if tiers is None else tiers)
    notes = list(params.notes if params else ["no parameter count: no weights and no config"])
    notes += extra_notes
    active = params.active if params else None
    estimated = None
    if tokens is not None and active is not None:
        estimated = 6.0 * active * tokens[0]
        notes.append(
            f"training FLOP ≈ 6 · N · D = 6 · {active:.3g} active parameters · "
            f"{tokens[0]:.3g} tokens ({tokens[1]}); one epoch, dense forward and backward "
            "passes, no recomputation"
        )
    elif tokens is None:
        notes.append("no training tokens declared or known: training FLOP not estimated")
    if declared is not None:
        notes.append(f"training compute declared as {declared[0]:.3g} FLOP ({declared[1]})")
    own = declared[0] if declared is not None else estimated
    flop: float | None
    modification = None
    if derivative:
        if base_flop is not None:
            notes.append(f"base model's training compute {base_flop:.3g} FLOP (from its record)")
        ratio = own / base_flop if own is not None and base_flop else None
        modification = Modification(
            modification_flop=own,
            base_flop=base_flop,
            ratio=ratio,
            exceeds_fraction=None if ratio is None else ratio > MODIFICATION_FRACTION,
        )
        flop = None if base_flop is None else base_flop + (own or 0.0)
        if flop is not None:
            notes.append("a derivative is judged on its base's compute plus its own")
    else:
        flop = own
    bound = 6.0 * active * MAX_PLAUSIBLE_TOKENS if active is not None else None
    if bound is not None and flop is None:
        notes.append(
            f"upper bound 6 · {active:.3g} active parameters · {MAX_PLAUSIBLE_TOKENS:.0e} tokens "
            f"= {bound:.3g} FLOP (D_max: no published model trained on more than "
            f"{MAX_PLAUSIBLE_TOKENS:.0e} tokens)"
            + ("; assumes the base has the same parameter count" if derivative else "")
        )
    basis = "declared" if declared is not None and not derivative else "estimate"
    results = [
        _tier(n, t, flop, bound, basis) for n, t in sorted(tiers.items(), key=lambda kv: kv[1])
    ]
    crossed = [r.name for r in results if r.exceeded]
    return ComputeEstimate(
        total_parameters=params.total if params else None,
        active_parameters=active,
        parameter_source=parameter_source if params else "none",
        is_moe=bool(params and params.routed),
        num_experts=params.num_experts if params else None,
        experts_per_token=params.experts_per_token if params else None,
        expert_parameters=params.routed if params and params.routed else None,
        training_tokens=tokens[0] if tokens else None,
        token_source=tokens[1] if tokens else None,
        declared_flop=declared[0] if declared else None,
        estimated_flop=estimated,
        own_flop=own,
        base_flop=base_flop,
        flop=flop,
        tier=crossed[-1] if crossed else None,
        tiers=results,
        modification=modification,
        assumptions=notes,
        max_tokens=MAX_PLAUSIBLE_TOKENS if bound is not None else None,
        bound_flop=bound,
        tier_summary=_summary(results, flop, bound),
    )


def _tier(
    name: str, threshold: float, flop: float | None, bound: float | None, basis: str
) -> TierResult:
    if flop is not None:
        return TierResult(
            name=name, threshold_flop=threshold, exceeded=flop >= threshold, basis=basis
        )
    if bound is not None and bound < threshold:
        return TierResult(name=name, threshold_flop=threshold, exceeded=False, basis="bound")
    return TierResult(name=name, threshold_flop=threshold, exceeded=None)


def _summary(results: Sequence[TierResult], flop: float | None, bound: float | None) -> str:
    if flop is not None:
        crossed = [r for r in results if r.exceeded]
        top = f"tier {crossed[-1].name}" if crossed else "below every threshold"
        return f"{top} at {flop:.3g} FLOP"
    if bound is None:
        return "no parameter count: tier unknown"
    below = [r for r in results if r.exceeded is False]
    open_ = [r.name for r in results if r.exceeded is None]
    if not open_:
        return f"below every threshold for any plausible token count (≤ {bound:.3g} FLOP)"
    if below:
        return (
            f"below {below[0].name} and up for any plausible token count (≤ {bound:.3g} "
            f"FLOP); {', '.join(open_)} undetermined without training tokens"
        )
    return f"tier undetermined without training tokens (bound {bound:.3g} FLOP settles none)"


__all__ = [
    "DEFAULT_TIERS",
    "MAX_PLAUSIBLE_TOKENS",
    "MODIFICATION_FRACTION",
    "ComputeEstimate",
    "Modification",
    "ParamCount",
    "TierResult",
    "count_parameters",
    "declared_flop",
    "declared_tokens",
    "estimate",
    "gguf_tokens",
    "params_from_config",
    "parse_quantity",
]
