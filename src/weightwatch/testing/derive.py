"""Derivatives of a tiny base: the transformations lineage and identity must see through.

Each function takes a loaded model (and tokenizer where it trains) and returns a new
model or writes a folder; none of them modifies its input.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.testing.models import TrainSpec, deterministic, train

LORA_TARGETS = {"llama": ["q_proj", "v_proj"], "qwen2": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}


def finetune(
    base: Any,
    tokenizer: Any,
    *,
    steps: int = 60,
    lr: float = 1e-3,
    domain: str = "b",
    seed: int = 1,
) -> Any:
    """Full fine-tune on another domain."""
    with deterministic(seed):
        model = copy.deepcopy(base)
        train(model, tokenizer, TrainSpec(steps, lr, domain, seed))
    return model


def _lora(
    base: Any, tokenizer: Any, *, steps: int, lr: float, domain: str, seed: int, r: int
) -> Any:
    from peft import LoraConfig, get_peft_model

    arch = base.config.model_type
    with deterministic(seed):
        cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=LORA_TARGETS[arch], lora_dropout=0.0)
        peft_model = get_peft_model(copy.deepcopy(base), cfg)
        train(peft_model, tokenizer, TrainSpec(steps, lr, domain, seed))
    return peft_model


def lora_merged(
    base: Any,
    tokenizer: Any,
    *,
    steps: int = 60,
    lr: float = 5e-3,
    domain: str = "b",
    seed: int = 2,
    r: int = 8,
) -> Any:
    """LoRA fine-tune, merged into the weights with peft's ``merge_and_unload``."""
    return _lora(
        base, tokenizer, steps=steps, lr=lr, domain=domain, seed=seed, r=r
    ).merge_and_unload()


def lora_adapter(
    base: Any,
    tokenizer: Any,
    out: Path,
    *,
    base_name: str,
    steps: int = 60,
    lr: float = 5e-3,
    seed: int = 3,
    r: int = 8,
) -> Path:
    """An unmerged adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``)."""
    import json

    peft_model = _lora(base, tokenizer, steps=steps, lr=lr, domain="b", seed=seed, r=r)
    peft_model.save_pretrained(out)
    # Name the base only after saving: peft would otherwise try to look it up on a hub.
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = base_name
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out


def quantize(base: Any, *, bits: int = 8) -> Any:
    """Per-output-row symmetric integer quantize -> dequantize of every 2-D weight."""
    import torch

    model = copy.deepcopy(base)
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for _name, p in model.named_parameters():
            if p.ndim != 2:
                continue
            scale = p.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / qmax
            p.copy_(torch.clamp(torch.round(p / scale), -qmax - 1, qmax) * scale)
    return model


def prune(base: Any, *, fraction: float = 0.5) -> Any:
    """Magnitude pruning: the smallest ``fraction`` of each linear weight set to zero."""
    import torch

    model = copy.deepcopy(base)
    emb_ids = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    with torch.no_grad():
        for _name, p in model.named_parameters():
            if p.ndim != 2 or id(p) in emb_ids:
                continue
            k = int(p.numel() * fraction)
            threshold = p.abs().flatten().kthvalue(k).values
            p.masked_fill_(p.abs() <= threshold, 0.0)
    return model


def merge(a: Any, b: Any, *, weight: float = 0.5) -> Any:
    """Linear merge (weight averaging) of two models of one architecture."""
    import torch

    model = copy.deepcopy(a)
    sb = dict(b.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(weight * p + (1 - weight) * sb[name])
    return model


def permute_hidden(base: Any, *, seed: int = 7) -> Any:
    """Llama/Qwen2: permute residual dims, MLP units and KV-head groups; same function."""
    import torch

    arch = base.config.model_type
    if arch not in ("llama", "qwen2"):
        raise ValueError(f"permute_hidden supports llama and qwen2, not {arch}")
    model = copy.deepcopy(base)
    cfg = model.config
    rng = np.random.default_rng(seed)
    hidden = cfg.hidden_size
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = hidden // n_head
    rep = n_head // n_kv
    p_res = torch.from_numpy(rng.permutation(hidden))
    inner = model.model
    with torch.no_grad():
        inner.embed_tokens.weight.copy_(inner.embed_tokens.weight[:, p_res])
        inner.norm.weight.copy_(inner.norm.weight[p_res])
        out = model.get_output_embeddings()
        if out.weight is not inner.embed_tokens.weight:
            out.weight.copy_(out.weight[:, p_res])
        for layer in inner.layers:
            attn, mlp = layer.self_attn, layer.mlp
            layer.input_layernorm.weight.copy_(layer.input_layernorm.weight[p_res])
            layer.post_attention_layernorm.weight.copy_(
                layer.post_attention_layernorm.weight[p_res]
            )
            # KV-head groups: permuting a KV head moves its `rep` query heads with it.
            g = rng.permutation(n_kv)
            kv_rows = torch.from_numpy(
                np.concatenate([np.arange(h * head_dim, (h + 1) * head_dim) for h in g])
            )
            q_heads = np.concatenate([np.arange(h * rep, (h + 1) * rep) for h in g])
            q_rows = torch.from_numpy(
                np.concatenate([np.arange(h * head_dim, (h + 1) * head_dim) for h in q_heads])
            )
            for lin, rows in (
                (attn.q_proj, q_rows),
                (attn.k_proj, kv_rows),
                (attn.v_proj, kv_rows),
            ):
                lin.weight.copy_(lin.weight[rows][:, p_res])
                if lin.bias is not None:
                    lin.bias.copy_(lin.bias[rows])
            attn.o_proj.weight.copy_(attn.o_proj.weight[p_res][:, q_rows])
            p_ffn = torch.from_numpy(rng.permutation(mlp.gate_proj.weight.shape[0]))
            mlp.gate_proj.weight.copy_(mlp.gate_proj.weight[p_ffn][:, p_res])
            mlp.up_proj.weight.copy_(mlp.up_proj.weight[p_ffn][:, p_res])
            mlp.down_proj.weight.copy_(mlp.down_proj.weight[p_res][:, p_ffn])
    return model


def max_logit_diff(
    a: Any, b: Any, tokenizer: Any, prompt: str = "Return the value of the"
) -> float:
    """Largest absolute difference of the two models' logits on one prompt."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return float((a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max())
