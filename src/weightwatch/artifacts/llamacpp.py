"""llama.cpp <-> Hugging Face tensor names and llama.cpp's Q/K row order, both ways.

A GGUF export renames every tensor and, for Llama-family models, reorders the rows of
the query and key projections to llama.cpp's RoPE layout. Identity digests and lineage
must see through both to say "this GGUF holds exactly that registered model", so the
mapping lives here in the core as pure functions, and its inverse is exact.

The name tables are the ``gguf`` package's own (``gguf.constants.MODEL_TENSORS`` and
``gguf.TensorNameMap``, the tables llama.cpp's converter uses), so every architecture
llama.cpp knows is covered without a hand-written copy. A tensor's *role*
(``MODEL_TENSOR.ATTN_Q`` in block 3, say) is what callers work with; the exact Llama
and GPT-2 Hugging Face names are kept for the identity digests that compare a GGUF with
the safetensors it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import gguf
import numpy as np
import numpy.typing as npt
from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSOR, MODEL_TENSORS, TENSOR_NAMES

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
# Gemma 2/3 name their norms differently from Llama (``post_attention_layernorm`` is the
# norm *after* attention there); the generic Hugging Face name of a role in other archs.
_GENERIC_LAYER: dict[MODEL_TENSOR, str] = {
    MODEL_TENSOR.ATTN_Q: "self_attn.q_proj",
    MODEL_TENSOR.ATTN_K: "self_attn.k_proj",
    MODEL_TENSOR.ATTN_V: "self_attn.v_proj",
    MODEL_TENSOR.ATTN_QKV: "self_attn.qkv_proj",
    MODEL_TENSOR.ATTN_OUT: "self_attn.o_proj",
    MODEL_TENSOR.ATTN_Q_NORM: "self_attn.q_norm",
    MODEL_TENSOR.ATTN_K_NORM: "self_attn.k_norm",
    MODEL_TENSOR.ATTN_NORM: "input_layernorm",
    MODEL_TENSOR.ATTN_POST_NORM: "post_attention_layernorm",
    MODEL_TENSOR.FFN_NORM: "post_attention_layernorm",
    MODEL_TENSOR.FFN_PRE_NORM: "pre_feedforward_layernorm",
    MODEL_TENSOR.FFN_POST_NORM: "post_feedforward_layernorm",
    MODEL_TENSOR.FFN_GATE: "mlp.gate_proj",
    MODEL_TENSOR.FFN_UP: "mlp.up_proj",
    MODEL_TENSOR.FFN_DOWN: "mlp.down_proj",
    MODEL_TENSOR.FFN_GATE_INP: "mlp.gate",
    MODEL_TENSOR.FFN_GATE_EXP: "mlp.experts.gate_proj",
    MODEL_TENSOR.FFN_UP_EXP: "mlp.experts.up_proj",
    MODEL_TENSOR.FFN_DOWN_EXP: "mlp.experts.down_proj",
    MODEL_TENSOR.FFN_GATE_SHEXP: "mlp.shared_expert.gate_proj",
    MODEL_TENSOR.FFN_UP_SHEXP: "mlp.shared_expert.up_proj",
    MODEL_TENSOR.FFN_DOWN_SHEXP: "mlp.shared_expert.down_proj",
}
_GENERIC_GLOBAL: dict[MODEL_TENSOR, str] = {
    MODEL_TENSOR.TOKEN_EMBD: "model.embed_tokens",
    MODEL_TENSOR.OUTPUT_NORM: "model.norm",
    MODEL_TENSOR.OUTPUT: "lm_head",
}
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")
_SUFFIX = re.compile(r"^(.+)\.(weight|bias)$")
_EXPERT = re.compile(r"^(.+\.experts)\.(\d+)\.(.+)$")
_BLOCK_INDEX = re.compile(r"\.(\d+)\.")

# Hugging Face ``model_type`` -> llama.cpp architecture name where they differ
# (llama.cpp converts Mistral and Mixtral to its "llama" architecture).
_HF_TO_GGUF = {
    "mistral": "llama",
    "mixtral": "llama",
    "gemma3_text": "gemma3",
    "gpt_neox": "gptneox",
    "qwen2_moe": "qwen2moe",
    "qwen3_moe": "qwen3moe",
    "phi": "phi2",
    "gpt_bigcode": "starcoder",
    "refinedweb": "falcon",
    "refinedwebmodel": "falcon",
    "cohere": "command-r",
}
_ARCHS = {name: arch for arch, name in MODEL_ARCH_NAMES.items()}

# Architectures whose GGUF export applies the Q/K RoPE permutation (llama.cpp's
# convert_hf_to_gguf permutes for the Llama family; GPT-2 has no RoPE, and Qwen, Gemma,
# Phi-3, GPT-NeoX and Falcon keep Hugging Face's order).
ROPE_PERMUTED = frozenset({"llama", "mistral", "mixtral"})
# Gemma's RMSNorm multiplies by (1 + w); llama.cpp's converter stores w + 1 in the GGUF.
GEMMA_NORM_SHIFT = frozenset({"gemma", "gemma2", "gemma3", "gemma3_text", "gemma3n"})


@dataclass(frozen=True)
class Role:
    """What a tensor is, in llama.cpp's vocabulary, wherever its name came from."""

    tensor: MODEL_TENSOR
    block: int | None  # transformer block, None for global tensors
    expert: int | None  # one expert of a mixture stored per expert (Hugging Face style)
    suffix: str  # "weight" or "bias"


def gguf_arch(arch: str) -> MODEL_ARCH | None:
    """llama.cpp's architecture for a Hugging Face ``model_type`` or a GGUF
    ``general.architecture`` (None when the ``gguf`` tables do not know it)."""
    key = arch.lower()
    return _ARCHS.get(_HF_TO_GGUF.get(key, key))


def supported(arch: str) -> bool:
    return gguf_arch(arch) is not None


def role_of(name: str, arch: str) -> Role | None:
    """The role of a tensor named the Hugging Face or the llama.cpp way (None if unknown)."""
    a = gguf_arch(arch)
    if a is None:
        return None
    m = _SUFFIX.match(name)
    stem, suffix = (m.group(1), m.group(2)) if m else (name, "weight")
    found = _gguf_role(stem, a)
    if found is not None:
        return Role(found[0], found[1], None, suffix)
    expert = None
    e = _EXPERT.match(stem)
    if e is not None:  # one expert of a mixture: the table names the stacked tensor
        stem, expert = f"{e.group(1)}.{e.group(3)}", int(e.group(2))
    blocks = _block_hint(stem) + 1
    hit = _name_map(a, blocks).get_type_and_name(stem)
    if hit is None:
        return None
    found = _gguf_role(hit[1], a)
    if found is None:
        return None
    return Role(found[0], found[1], expert, suffix)


def hf_to_gguf_name(name: str, arch: str) -> str | None:
    """llama.cpp name for a Hugging Face tensor name (None if unmapped)."""
    fam = _legacy_family(arch)
    if fam is not None:
        glob, prefix, layer = _TABLES[fam]
        if name in glob:
            return glob[name]
        head = prefix.split("{}")[0]
        if name.startswith(head):
            idx, _, suffix = name[len(head) :].partition(".")
            if idx.isdigit() and suffix in layer:
                return f"blk.{idx}.{layer[suffix]}"
        return None
    a = gguf_arch(arch)
    m = _SUFFIX.match(name)
    if a is None or m is None or _EXPERT.match(m.group(1)):
        return None
    hit = _name_map(a, _block_hint(m.group(1)) + 1).get_type_and_name(m.group(1))
    return None if hit is None else f"{hit[1]}.{m.group(2)}"


def gguf_to_hf_name(name: str, arch: str) -> str | None:
    """Hugging Face name for a llama.cpp tensor name (None if unmapped).

    Exact for the Llama and GPT-2 families; for other architectures the Llama-style name
    of the tensor's role (Gemma's norms under Gemma's names).
    """
    fam = _legacy_family(arch)
    if fam is not None:
        glob, prefix, layer = _TABLES[fam]
        for hf, gg in glob.items():
            if gg == name:
                return hf
        m = _BLK.match(name)
        if m:
            for hf, gg in layer.items():
                if gg == m.group(2):
                    return prefix.format(m.group(1)) + hf
        return None
    role = role_of(name, arch)
    if role is None:
        return None
    if role.block is None:
        stem = _GENERIC_GLOBAL.get(role.tensor)
        return None if stem is None else f"{stem}.{role.suffix}"
    stem = _GENERIC_LAYER.get(role.tensor)
    if stem is None:
        return None
    return f"model.layers.{role.block}.{stem}.{role.suffix}"


def _legacy_family(arch: str) -> str | None:
    if arch in ("llama", "mistral"):
        return "llama"
    if arch == "gpt2":
        return "gpt2"
    return None


def _block_hint(stem: str) -> int:
    m = _BLOCK_INDEX.search(stem + ".")
    return int(m.group(1)) if m else 0


@lru_cache(maxsize=32)
def _name_map(arch: MODEL_ARCH, n_blocks: int) -> gguf.TensorNameMap:
    # Rounded up so one table serves every block count up to the next power of two.
    size = 1 << max(0, (n_blocks - 1).bit_length())
    return gguf.get_tensor_name_map(arch, size)


@lru_cache(maxsize=64)
def _gguf_templates(arch: MODEL_ARCH) -> tuple[dict[str, MODEL_TENSOR], dict[str, MODEL_TENSOR]]:
    glob: dict[str, MODEL_TENSOR] = {}
    block: dict[str, MODEL_TENSOR] = {}
    for t in MODEL_TENSORS[arch]:
        tpl = TENSOR_NAMES[t]
        if tpl.startswith("blk.{bid}."):
            block.setdefault(tpl[len("blk.{bid}.") :], t)
        elif "{" not in tpl:
            glob.setdefault(tpl, t)
    return glob, block


def _gguf_role(stem: str, arch: MODEL_ARCH) -> tuple[MODEL_TENSOR, int | None] | None:
    glob, block = _gguf_templates(arch)
    if stem in glob:
        return glob[stem], None
    m = _BLK.match(stem)
    if m and m.group(2) in block:
        return block[m.group(2)], int(m.group(1))
    return None


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
