"""Function-preserving (or nearly) edits an uploader could use to hide a model's origin.

Each returns a new model (and, for vocabulary edits, a new tokenizer folder); none is
known to a fingerprint in advance. ``rotate_hidden`` and ``rescale`` keep the logits
equal up to float error; vocabulary edits keep every surviving token's embedding.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np


def _fold_norms(model: Any) -> None:
    """Multiply each RMSNorm's weights into the linears it feeds; set the norm to 1."""
    import torch

    inner = model.model
    with torch.no_grad():
        for layer in inner.layers:
            g = layer.input_layernorm.weight
            for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                lin.weight.mul_(g[None, :])
            g.fill_(1.0)
            g = layer.post_attention_layernorm.weight
            for lin in (layer.mlp.gate_proj, layer.mlp.up_proj):
                lin.weight.mul_(g[None, :])
            g.fill_(1.0)
        model.get_output_embeddings().weight.mul_(inner.norm.weight[None, :])
        inner.norm.weight.fill_(1.0)


def rotate_hidden(base: Any, *, seed: int = 11) -> Any:
    """Llama: fold the norms, then rotate the residual stream by a random orthogonal Q.

    Every matrix that reads the residual becomes W Qᵀ, every one that writes it Q W, the
    embeddings E Qᵀ: RMSNorm of Q x equals Q-rotated RMSNorm of x once its weights are 1.
    """
    import torch

    if base.config.model_type != "llama" or base.config.tie_word_embeddings:
        raise ValueError("rotate_hidden needs a Llama with untied embeddings")
    model = copy.deepcopy(base)
    _fold_norms(model)
    h = model.config.hidden_size
    rng = np.random.default_rng(seed)
    q_np, r = np.linalg.qr(rng.standard_normal((h, h)))
    q = torch.from_numpy(q_np * np.sign(np.diag(r))).to(torch.float32)
    inner = model.model
    with torch.no_grad():
        inner.embed_tokens.weight.copy_(inner.embed_tokens.weight @ q.T)
        out = model.get_output_embeddings()
        out.weight.copy_(out.weight @ q.T)
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            for lin in (a.q_proj, a.k_proj, a.v_proj, m.gate_proj, m.up_proj):
                lin.weight.copy_(lin.weight @ q.T)
            for lin in (a.o_proj, m.down_proj):
                lin.weight.copy_(q @ lin.weight)
    return model


def rescale(base: Any, *, seed: int = 12) -> Any:
    """Scale between adjacent layers, keeping the function.

    Norm weights x c with q/k/v / c; q x c2 with k / c2; v x c3 with o / c3; each MLP
    unit's up row x s with its down column / s (a gated MLP is linear in ``up``).
    """
    import torch

    model = copy.deepcopy(base)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for layer in model.model.layers:
            a, m = layer.self_attn, layer.mlp
            c = float(rng.uniform(2.0, 8.0))
            layer.input_layernorm.weight.mul_(c)
            for lin in (a.q_proj, a.k_proj, a.v_proj):
                lin.weight.div_(c)
            c2 = float(rng.uniform(0.2, 5.0))
            a.q_proj.weight.mul_(c2)  # q.k is unchanged when k is divided by the same
            a.k_proj.weight.div_(c2)
            c3 = float(rng.uniform(0.2, 5.0))
            a.v_proj.weight.mul_(c3)
            a.o_proj.weight.div_(c3)
            s = torch.from_numpy(rng.uniform(0.25, 4.0, m.up_proj.weight.shape[0])).float()
            m.up_proj.weight.mul_(s[:, None])
            m.down_proj.weight.div_(s[None, :])
    return model


def drop_last_layer(base: Any) -> Any:
    """Remove the last decoder layer (a crude depth prune)."""
    import torch

    model = copy.deepcopy(base)
    model.model.layers = torch.nn.ModuleList(list(model.model.layers)[:-1])
    model.config.num_hidden_layers -= 1
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:-1]
    return model


# -- vocabulary edits: a model plus the tokenizer folder that goes with it -------------


def _tokenizer_json(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "tokenizer.json").read_text()))


def _copy_tokenizer(src: Path, dst: Path, data: dict[str, Any]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    (dst / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False))


def _set_vocab_rows(model: Any, rows: Any) -> None:
    """Replace input and output embeddings by ``rows`` (indices into the old ones)."""
    import torch

    emb = model.get_input_embeddings().weight.detach()[rows].clone()
    out = model.get_output_embeddings().weight.detach()[rows].clone()
    model.resize_token_embeddings(len(rows))
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(emb)
        if model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
            model.get_output_embeddings().weight.copy_(out)
    model.config.vocab_size = len(rows)


def shuffle_vocab(base: Any, tokenizer_dir: Path, out_tok: Path, *, seed: int = 13) -> Any:
    """Give every non-special token a new id (and move its embedding rows with it)."""
    data = _tokenizer_json(tokenizer_dir)
    vocab: dict[str, int] = data["model"]["vocab"]
    special = {t["id"] for t in data.get("added_tokens", [])}
    movable = sorted(i for i in vocab.values() if i not in special)
    perm = np.random.default_rng(seed).permutation(movable)
    new_id = dict(zip(movable, perm.tolist(), strict=True))
    data["model"]["vocab"] = {t: new_id.get(i, i) for t, i in vocab.items()}
    order = list(range(len(vocab)))  # order[new] = old
    for old, new in new_id.items():
        order[new] = old
    model = copy.deepcopy(base)
    _set_vocab_rows(model, order)
    _copy_tokenizer(tokenizer_dir, out_tok, data)
    return model


def trim_vocab(base: Any, tokenizer_dir: Path, out_tok: Path, *, drop: int = 128) -> Any:
    """Drop the last ``drop`` merges and the tokens they make (the rarest merged tokens)."""
    data = _tokenizer_json(tokenizer_dir)
    vocab: dict[str, int] = data["model"]["vocab"]
    keep_n = len(vocab) - drop
    data["model"]["vocab"] = {t: i for t, i in vocab.items() if i < keep_n}
    data["model"]["merges"] = data["model"]["merges"][: len(data["model"]["merges"]) - drop]
    model = copy.deepcopy(base)
    _set_vocab_rows(model, list(range(keep_n)))
    _copy_tokenizer(tokenizer_dir, out_tok, data)
    return model


def extend_vocab(
    base: Any, tokenizer_dir: Path, out_tok: Path, *, add: int = 96, seed: int = 14
) -> Any:
    """Add ``add`` new tokens at the end with freshly initialised embedding rows."""
    import torch

    data = _tokenizer_json(tokenizer_dir)
    vocab: dict[str, int] = data["model"]["vocab"]
    n = len(vocab)
    for k in range(add):
        vocab[f"\u0120wwnew{k}"] = n + k
    model = copy.deepcopy(base)
    old = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(n + add, mean_resizing=False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in {
            id(x): x
            for x in (model.get_input_embeddings().weight, model.get_output_embeddings().weight)
        }.values():
            w[old:] = torch.randn(w[old:].shape, generator=gen) * 0.02
    _copy_tokenizer(tokenizer_dir, out_tok, data)
    return model
