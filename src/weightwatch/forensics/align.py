"""Undo a function-preserving permutation of a Llama-layout derivative before diffing.

Permuting residual dimensions, MLP units and KV-head groups leaves a model's function
unchanged but makes every weight differ from its base, hiding what was really done to it.
This recovers the permutations by matching (linear assignment on absolute correlation):
residual dimensions from the token-embedding columns, KV groups from k_proj row blocks,
MLP units from gate_proj rows, and returns the derivative's tensors in the base's order.
Orthogonal rotations are not undone (a rotated derivative stays ``full``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def _match(base: Array, derivative: Array) -> tuple[npt.NDArray[np.intp], float]:
    """For each base column i, the derivative column matching it; and the mean |corr|."""
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    def unit(x: Array) -> Array:
        x = x - x.mean(axis=0, keepdims=True)
        norms = np.linalg.norm(x, axis=0, keepdims=True)
        return np.asarray(x / np.where(norms > 0, norms, 1.0))

    corr = np.abs(unit(base).T @ unit(derivative))
    rows, cols = linear_sum_assignment(-corr)
    order = np.empty(base.shape[1], dtype=np.intp)
    order[rows] = cols
    return order, float(corr[rows, cols].mean())


def _layers(tensors: Mapping[str, Array]) -> list[str]:
    found = {m.group(1) for name in tensors if (m := re.match(r"(.*layers\.\d+)\.", name))}
    return sorted(found, key=lambda p: int(p.rsplit(".", 1)[1]))


def align_llama(
    base: Mapping[str, Array],
    derivative: Mapping[str, Array],
    *,
    num_kv_heads: int,
    head_dim: int,
) -> tuple[dict[str, Array], bool, float]:
    """The derivative's tensors in the base's order, whether a permutation was undone, and
    the weakest match quality (mean |corr| of matched units; near 1 when it is real)."""
    embed = next((n for n in base if n.endswith("embed_tokens.weight")), None)
    if embed is None or embed not in derivative:
        return dict(derivative), False, 0.0
    q_res, quality = _match(base[embed], derivative[embed])
    if np.array_equal(q_res, np.arange(q_res.size)):
        return dict(derivative), False, quality
    out = dict(derivative)
    hidden = q_res.size
    for name, value in derivative.items():  # everything that reads or is the residual
        if value.ndim == 1 and value.shape[0] == hidden and name.endswith("norm.weight"):
            out[name] = value[q_res]
        elif name.endswith(("embed_tokens.weight", "lm_head.weight")):
            out[name] = value[:, q_res]
    for layer in _layers(base):
        p = f"{layer}.self_attn."
        m = f"{layer}.mlp."
        k = derivative[p + "k_proj.weight"][:, q_res]
        kb = base[p + "k_proj.weight"]
        blocks_b = kb.reshape(num_kv_heads, head_dim * hidden).T
        blocks_d = k.reshape(num_kv_heads, head_dim * hidden).T
        group, q_kv = _match(blocks_b, blocks_d)
        rep = base[p + "q_proj.weight"].shape[0] // (num_kv_heads * head_dim)
        kv_rows = np.concatenate([np.arange(g * head_dim, (g + 1) * head_dim) for g in group])
        q_heads = np.concatenate([np.arange(g * rep, (g + 1) * rep) for g in group])
        q_rows = np.concatenate([np.arange(h * head_dim, (h + 1) * head_dim) for h in q_heads])
        for proj, rows in (("q_proj", q_rows), ("k_proj", kv_rows), ("v_proj", kv_rows)):
            out[p + proj + ".weight"] = derivative[p + proj + ".weight"][rows][:, q_res]
        out[p + "o_proj.weight"] = derivative[p + "o_proj.weight"][q_res][:, q_rows]
        gate = derivative[m + "gate_proj.weight"][:, q_res]
        q_ffn, q_mlp = _match(base[m + "gate_proj.weight"].T, gate.T)
        out[m + "gate_proj.weight"] = gate[q_ffn]
        out[m + "up_proj.weight"] = derivative[m + "up_proj.weight"][q_ffn][:, q_res]
        out[m + "down_proj.weight"] = derivative[m + "down_proj.weight"][q_res][:, q_ffn]
        quality = min(quality, q_kv, q_mlp)
    return out, True, quality
