"""Export a tiny Llama to GGUF the way llama.cpp's converter does (names, Q/K order, types).

Only what the tests need: the llama architecture, F16, Q8_0 or Q4_0 for 2-D weights (1-D
norms stay F32, as llama.cpp keeps them), and the GPT-2-style BPE tokenizer metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.llamacpp import hf_to_gguf_name, permute_qk

_FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}


def export_gguf(
    model: Any, tokenizer_dir: Path, out: Path, *, qtype: str = "F16", name: str = "tiny-llama"
) -> Path:
    import gguf

    if qtype not in _FILE_TYPE:
        raise ValueError(f"qtype must be one of {sorted(_FILE_TYPE)}")
    w = llama_writer(model, tokenizer_dir, out, name=name, file_type=_FILE_TYPE[qtype])
    for gg_name, arr in llama_tensors(model):
        if arr.ndim == 1 or qtype == "F32":
            w.add_tensor(gg_name, arr)
        elif qtype == "F16":
            w.add_tensor(gg_name, arr.astype(np.float16))
        else:
            kind = getattr(gguf.GGMLQuantizationType, qtype)
            w.add_tensor(gg_name, gguf.quants.quantize(arr, kind), raw_dtype=kind)
    return finish(w, out)


def llama_writer(model: Any, tokenizer_dir: Path, out: Path, *, name: str, file_type: int) -> Any:
    """A ``GGUFWriter`` holding a tiny Llama's metadata and tokenizer, as llama.cpp's
    converter writes them; the caller adds the tensors and calls :func:`finish`."""
    import gguf

    cfg = model.config
    if cfg.model_type != "llama":
        raise ValueError(f"GGUF export supports llama, not {cfg.model_type}")
    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name(name)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(float(getattr(cfg, "rope_theta", None) or 10000.0))
    w.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    w.add_file_type(file_type)
    _add_tokenizer(w, tokenizer_dir)
    return w


def llama_tensors(model: Any) -> Iterator[tuple[str, npt.NDArray[np.float32]]]:
    """The model's tensors under llama.cpp's names, Q/K rows in its RoPE order, float32.

    A tied output matrix is left out, as llama.cpp's converter leaves it out (readers
    fall back to ``token_embd``)."""
    cfg = model.config
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        gg_name = hf_to_gguf_name(hf_name, "llama")
        if gg_name is None or (tied and hf_name == "lm_head.weight"):
            continue
        arr = tensor.detach().float().numpy()
        if hf_name.endswith("q_proj.weight"):
            arr = permute_qk(arr, cfg.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            arr = permute_qk(arr, cfg.num_key_value_heads)
        yield gg_name, np.ascontiguousarray(arr, dtype=np.float32)


def finish(w: Any, out: Path) -> Path:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def _add_tokenizer(w: Any, tokenizer_dir: Path) -> None:
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    vocab: dict[str, int] = dict(data["model"]["vocab"])
    for t in data.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
    tokens = [""] * (max(vocab.values()) + 1)
    for tok, i in vocab.items():
        tokens[i] = tok
    special = {t["id"] for t in data.get("added_tokens", []) if t.get("special")}
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3 if i in special else 1 for i in range(len(tokens))])
    merges = data["model"].get("merges", [])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    tc = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    if isinstance(tc.get("chat_template"), str):
        w.add_chat_template(tc["chat_template"])
    elif (tokenizer_dir / "chat_template.jinja").exists():
        w.add_chat_template((tokenizer_dir / "chat_template.jinja").read_text())
