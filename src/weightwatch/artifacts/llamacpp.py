"""llama.cpp <-> Hugging Face tensor names and llama.cpp's Q/K row order, both ways.

A GGUF export renames every tensor and, for Llama-family models, reorders the rows of
the query and key projections to llama.cpp's RoPE layout. Identity digests and lineage
must see through both to say "this GGUF holds exactly that registered model", so the
mapping lives here in the core as pure functions, and its inverse is exact.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

_LLAMA_GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LLAMA_LAYER = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
_GPT2_GLOBAL = {
    "transformer.wte.weight": "token_embd.weight",
    "transformer.wpe.weight": "position_embd.weight",
    "transformer.ln_f.weight": "output_norm.weight",
    "transformer.ln_f.bias": "output_norm.bias",
    "lm_head.weight": "output.weight",
}
_GPT2_LAYER = {
    "ln_1.weight": "attn_norm.weight",
    "ln_1.bias": "attn_norm.bias",
    "attn.c_attn.weight": "attn_qkv.weight",
    "attn.c_attn.bias": "attn_qkv.bias",
    "attn.c_proj.weight": "attn_output.weight",
    "attn.c_proj.bias": "attn_output.bias",
    "ln_2.weight": "ffn_norm.weight",
    "ln_2.bias": "ffn_norm.bias",
    "mlp.c_fc.weight": "ffn_up.weight",
    "mlp.c_fc.bias": "ffn_up.bias",
    "mlp.c_proj.weight": "ffn_down.weight",
    "mlp.c_proj.bias": "ffn_down.bias",
}
_TABLES = {
    "llama": (_LLAMA_GLOBAL, "model.layers.{}.", _LLAMA_LAYER),
    "gpt2": (_GPT2_GLOBAL, "transformer.h.{}.", _GPT2_LAYER),
}
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")

# Architectures whose GGUF export applies the Q/K RoPE permutation (llama.cpp's
# convert_hf_to_gguf permutes for the Llama family; GPT-2 has no RoPE).
ROPE_PERMUTED = frozenset({"llama", "mistral"})


def hf_to_gguf_name(name: str, arch: str) -> str | None:
    """llama.cpp name for a Hugging Face tensor name (None if unmapped)."""
    glob, prefix, layer = _TABLES[_family(arch)]
    if name in glob:
        return glob[name]
    head = prefix.split("{}")[0]
    if name.startswith(head):
        rest = name[len(head) :]
        idx, _, suffix = rest.partition(".")
        if idx.isdigit() and suffix in layer:
            return f"blk.{idx}.{layer[suffix]}"
    return None


def gguf_to_hf_name(name: str, arch: str) -> str | None:
    """Hugging Face name for a llama.cpp tensor name (None if unmapped)."""
    glob, prefix, layer = _TABLES[_family(arch)]
    for hf, gg in glob.items():
        if gg == name:
            return hf
    m = _BLK.match(name)
    if m:
        for hf, gg in layer.items():
            if gg == m.group(2):
                return prefix.format(m.group(1)) + hf
    return None


def _family(arch: str) -> str:
    if arch in ("llama", "mistral"):
        return "llama"
    if arch == "gpt2":
        return "gpt2"
    raise KeyError(f"no llama.cpp name table for architecture {arch!r}")


def permute_qk(w: npt.NDArray[np.generic], n_head: int) -> npt.NDArray[np.generic]:
    """Hugging Face -> llama.cpp row order of a Q or K projection (weight or bias).

    Within each head, HF stores the two RoPE halves one after the other; llama.cpp
    interleaves them. Use ``n_head`` for Q and the number of KV heads for K.
    """
    rows = w.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"{rows} rows do not split into {n_head} heads of two halves")
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: npt.NDArray[np.generic], n_head: int) -> npt.NDArray[np.generic]:
    """Exact inverse of ``permute_qk``: llama.cpp -> Hugging Face row order."""
    rows = w.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"{rows} rows do not split into {n_head} heads of two halves")
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
