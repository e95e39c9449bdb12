"""Bring any decoder family to the Llama names a fingerprint reads, from its tensor roles.

Each tensor's role comes from llama.cpp's own tables (``artifacts.llamacpp.role_of``),
so safetensors and GGUF naming meet in one vocabulary. What differs between families
is undone here, lazily (nothing is read until the fingerprint asks for it):

- fused projections: Q/K/V in one matrix (GPT-NeoX and Falcon in their Hugging Face
  head-interleaved orders, Phi-3 and every GGUF in ``[q; k; v]`` order) and Phi-3's
  ``gate_up_proj`` (``[gate; up]``);
- plain MLPs (GPT-NeoX, Falcon): the up projection stands in for the gate;
- mixtures of experts (Mixtral, Qwen-MoE, ...): every expert's rows, plus any shared
  expert, side by side in expert order, so the MLP statistics sum over experts; the
  Hugging Face per-expert tensors and GGUF's stacked ones give the same matrix;
- norms: Gemma's RMSNorm scales by ``1 + w`` and llama.cpp stores ``w + 1``, so
  the safetensors side adds the one; Gemma 2/3's pre-MLP norm is ``pre_feedforward``
  (their ``post_attention_layernorm`` is applied *after* attention), Falcon's new
  decoder has a separate attention norm, and parallel-residual models without an MLP
  norm feed the MLP from the attention norm.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from gguf.constants import MODEL_TENSOR as MT

from weightwatch.artifacts import Artifact, Tensor, TensorInfo
from weightwatch.artifacts.llamacpp import GEMMA_NORM_SHIFT, Role, role_of
from weightwatch.errors import ArtifactError

F32 = np.ndarray[Any, np.dtype[np.float32]]

_ATTN = {MT.ATTN_Q: "q", MT.ATTN_K: "k", MT.ATTN_V: "v", MT.ATTN_OUT: "o"}
_EXPERTS = {MT.FFN_GATE_EXP: "gate", MT.FFN_UP_EXP: "up", MT.FFN_DOWN_EXP: "down"}
_SHARED = {MT.FFN_GATE_SHEXP: "gate", MT.FFN_UP_SHEXP: "up", MT.FFN_DOWN_SHEXP: "down"}
_DENSE = {MT.FFN_GATE: "gate", MT.FFN_UP: "up", MT.FFN_DOWN: "down"}
_LLAMA = {
    "q": "self_attn.q_proj.weight",
    "k": "self_attn.k_proj.weight",
    "v": "self_attn.v_proj.weight",
    "o": "self_attn.o_proj.weight",
    "gate": "mlp.gate_proj.weight",
    "up": "mlp.up_proj.weight",
    "down": "mlp.down_proj.weight",
    "attn_norm": "input_layernorm.weight",
    "mlp_norm": "post_attention_layernorm.weight",
}


def head_counts(art: Artifact, arch: str) -> tuple[int | None, int]:
    """(query heads, key/value heads) from config.json or the GGUF metadata."""
    cfg, meta = art.config, art.gguf_metadata or {}
    heads = (cfg.num_heads if cfg else None) or meta.get(f"{arch}.attention.head_count")
    kv = (cfg.num_kv_heads if cfg else None) or meta.get(f"{arch}.attention.head_count_kv")
    if cfg is not None and arch == "falcon" and isinstance(heads, int):
        kv = _falcon_groups(cfg.raw, heads)
    if not isinstance(heads, int) or heads <= 0:
        return None, 0
    return heads, kv if isinstance(kv, int) and kv > 0 else heads


def _falcon_groups(raw: dict[str, Any], heads: int) -> int:
    """Falcon's key/value heads: its config says it three ways."""
    if raw.get("new_decoder_architecture"):
        n = raw.get("num_kv_heads")
        return n if isinstance(n, int) and n > 0 else heads
    return 1 if raw.get("multi_query", True) else heads


def canonical_tensors(art: Artifact, arch: str, *, gguf: bool) -> dict[str, Tensor]:
    """The embedding, output and per-layer tensors under Llama's Hugging Face names."""
    heads, kv = head_counts(art, arch)
    blocks: dict[int, dict[Any, list[tuple[Role, Tensor]]]] = defaultdict(lambda: defaultdict(list))
    out: dict[str, Tensor] = {}
    for t in art.model_tensors:
        role = role_of(t.name, arch)
        if role is None or role.suffix != "weight":
            continue
        if role.block is None:
            if role.tensor == MT.TOKEN_EMBD:
                out["model.embed_tokens.weight"] = t
            elif role.tensor == MT.OUTPUT:
                out["lm_head.weight"] = t
            continue
        blocks[role.block][role.tensor].append((role, t))
    shift = not gguf and arch in GEMMA_NORM_SHIFT
    for i, parts in sorted(blocks.items()):
        for part, t in _block(parts, arch, gguf=gguf, heads=heads, kv=kv, shift=shift).items():
            out[f"model.layers.{i}.{_LLAMA[part]}"] = t
    return out


def _block(
    parts: dict[Any, list[tuple[Role, Tensor]]],
    arch: str,
    *,
    gguf: bool,
    heads: int | None,
    kv: int,
    shift: bool,
) -> dict[str, Tensor]:
    one = {k: v[0][1] for k, v in parts.items() if len(v) == 1 and v[0][0].expert is None}
    out: dict[str, Tensor] = {_ATTN[k]: one[k] for k in _ATTN if k in one}
    if MT.ATTN_QKV in one and heads is not None:
        out.update(_split_qkv(one[MT.ATTN_QKV], arch, gguf=gguf, heads=heads, kv=kv))
    out.update(_mlp(parts, one))
    attn_norm = one.get(MT.ATTN_NORM_2) if arch == "falcon" else None
    attn_norm = attn_norm or one.get(MT.ATTN_NORM)
    mlp_norm = one.get(MT.FFN_NORM) or one.get(MT.FFN_PRE_NORM) or one.get(MT.ATTN_NORM)
    if arch == "falcon" and MT.ATTN_NORM_2 in one:
        mlp_norm = one.get(MT.ATTN_NORM)
    for name, norm in (("attn_norm", attn_norm), ("mlp_norm", mlp_norm)):
        if norm is not None:
            out[name] = _shifted(norm) if shift else norm
    return out


def _mlp(parts: dict[Any, list[tuple[Role, Tensor]]], one: dict[Any, Tensor]) -> dict[str, Tensor]:
    dense = {_DENSE[k]: one[k] for k in _DENSE if k in one}
    experts: dict[str, list[tuple[int, Tensor, bool]]] = defaultdict(list)
    for table in (_EXPERTS, _SHARED):
        for k, part in table.items():
            for role, t in parts.get(k, []):
                stacked = role.expert is None and table is _EXPERTS
                order = role.expert if role.expert is not None else (-1 if stacked else 1 << 30)
                experts[part].append((order, t, stacked))
    if experts.get("up") and experts.get("down"):
        return _concat_experts(experts)
    if "up" in dense and "gate" not in dense:
        up, down = dense["up"], dense.get("down")
        if down is not None and up.shape[0] == 2 * down.shape[-1]:  # Phi-3 [gate; up]
            half = up.shape[0] // 2
            dense["gate"] = _derived(up, "gate", lambda w: w[:half])
            dense["up"] = _derived(up, "up", lambda w: w[half:])
        else:  # plain MLP: the up projection stands in for the gate
            dense["gate"] = up
    return dense


def _concat_experts(experts: dict[str, list[tuple[int, Tensor, bool]]]) -> dict[str, Tensor]:
    """All experts' MLP units side by side: rows of gate/up, columns of down."""
    out: dict[str, Tensor] = {}
    for part, items in experts.items():
        items = sorted(items, key=lambda x: x[0])
        first = items[0][1]

        def load(items: list[tuple[int, Tensor, bool]] = items, part: str = part) -> F32:
            mats: list[F32] = []
            for _, t, stacked in items:
                w = t.to_float32()
                if stacked:  # GGUF [experts, out, in]
                    w = w.reshape(t.shape)
                    mats.extend(w[e] for e in range(w.shape[0]))
                else:
                    mats.append(w.reshape(t.shape[-2:]))
            return np.ascontiguousarray(
                np.concatenate(mats, axis=1 if part == "down" else 0), dtype=np.float32
            )

        shape = _concat_shape(items, part)
        out[part] = _virtual(f"{first.name}#experts", first.info.file, shape, load)
    if "gate" not in out:
        out["gate"] = out["up"]
    return out


def _concat_shape(items: list[tuple[int, Tensor, bool]], part: str) -> tuple[int, int]:
    rows = cols = 0
    for _, t, stacked in items:
        n = t.shape[0] if stacked else 1
        r, c = t.shape[-2:]
        if part == "down":
            rows, cols = r, cols + n * c
        else:
            rows, cols = rows + n * r, c
    return rows, cols


def _split_qkv(t: Tensor, arch: str, *, gguf: bool, heads: int, kv: int) -> dict[str, Tensor]:
    """Q, K and V out of one fused projection, in each family's own row order."""
    rows = t.shape[0]
    per_head = not gguf and arch in ("gpt_neox", "gptneox", "bloom")
    grouped = not gguf and arch == "falcon"
    hd = rows // (heads + 2 * kv) if not per_head else rows // (3 * heads)
    if hd <= 0 or (not per_head and hd * (heads + 2 * kv) != rows):
        raise ArtifactError(t.info.file, f"{t.name}: {rows} rows do not split into Q/K/V heads")

    def pick(w: F32, which: int) -> F32:
        if per_head:  # [heads, (q, k, v), head_dim, in]
            return w.reshape(heads, 3, hd, -1)[:, which].reshape(-1, w.shape[-1])
        if grouped:  # [kv groups, (q..., k, v), head_dim, in]
            g = w.reshape(kv, heads // kv + 2, hd, -1)
            sel = g[:, :-2] if which == 0 else g[:, -2 if which == 1 else -1]
            return sel.reshape(-1, w.shape[-1])
        bounds = (0, heads * hd, (heads + kv) * hd, rows)
        return w[bounds[which] : bounds[which + 1]]

    def picker(i: int) -> Callable[[F32], F32]:
        return lambda w: pick(w, i)

    return {p: _derived(t, p, picker(i)) for i, p in enumerate("qkv")}


def _derived(t: Tensor, part: str, fn: Callable[[F32], F32]) -> Tensor:
    def load() -> F32:
        return np.ascontiguousarray(fn(t.to_float32().reshape(t.shape)), dtype=np.float32)

    probe = fn(np.empty(t.shape, dtype=np.float32))  # views only: shape without reading
    return _virtual(f"{t.name}#{part}", t.info.file, tuple(probe.shape), load)


def _shifted(t: Tensor) -> Tensor:
    return _virtual(f"{t.name}#+1", t.info.file, t.shape, lambda: t.to_float32() + 1.0)


def _virtual(name: str, file: str, shape: tuple[int, ...], load: Callable[[], F32]) -> Tensor:
    n = int(np.prod(shape)) if shape else 1
    return Tensor(TensorInfo(name, "F32", tuple(int(d) for d in shape), file, 4 * n), load)
