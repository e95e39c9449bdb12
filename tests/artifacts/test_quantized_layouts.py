"""#14: GPTQ, AWQ, bitsandbytes, FP8 and GGUF K-quant copies of a tiny base are seen.

bitsandbytes copies are written by bitsandbytes, FP8 by torch + safetensors; GPTQ/AWQ
are packed in their documented layouts (no CUDA here for their own kernels) and K-quant
GGUFs in ggml's block layout, read back by the ``gguf`` package's own dequantizer.
Each copy must dequantize close to the base, fingerprint, and link as ``quantized``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from weightwatch.artifacts import open_artifact
from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import compare
from weightwatch.testing import quant_layouts as ql

LAYER = "model.layers.1.mlp.down_proj.weight"
WRITERS = {
    "gptq": (ql.write_gptq, "GPTQ_I4", 0.15),
    "gptq-no-act-order": (lambda b, o: ql.write_gptq(b, o, act_order=False), "GPTQ_I4", 0.15),
    "awq": (ql.write_awq, "AWQ_I4", 0.15),
    "bnb-nf4": (lambda b, o: ql.write_bnb(b, o, kind="nf4"), "BNB_4BIT", 0.15),
    "bnb-fp4": (lambda b, o: ql.write_bnb(b, o, kind="fp4"), "BNB_4BIT", 0.2),
    "bnb-int8": (lambda b, o: ql.write_bnb(b, o, kind="int8"), "BNB_I8", 0.02),
    "fp8-tensor": (ql.write_fp8, "F8_E4M3", 0.05),
    "fp8-block": (lambda b, o: ql.write_fp8(b, o, block=64), "F8_E4M3", 0.05),
}


@pytest.fixture(scope="module")
def base(llama_family) -> Path:  # type: ignore[no-untyped-def]
    return Path(llama_family.base)


@pytest.fixture(scope="module")
def base_fp(base: Path):  # type: ignore[no-untyped-def]
    return fingerprint(base)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_quantized_safetensors_copy_links_as_quantized(tmp_path, base, base_fp, kind):
    if kind.startswith("bnb"):
        pytest.importorskip("bitsandbytes")
    write, dtype, tol = WRITERS[kind]
    copy = write(base, tmp_path / kind)
    art = open_artifact(copy)
    stored = {t.name for t in art.iter_tensors()}
    logical = {t.name: t for t in art.model_tensors}
    assert LAYER in logical and logical[LAYER].dtype == dtype
    assert art.totals.parameter_count == open_artifact(base).totals.parameter_count
    ref = open_artifact(base).tensor(LAYER).to_float32()
    got = logical[LAYER].to_float32()
    assert got.shape == ref.shape
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < tol
    prefix = LAYER.removesuffix(".weight")
    if dtype in ("GPTQ_I4", "AWQ_I4"):  # stored packed, still listed as stored
        assert {f"{prefix}.qweight", f"{prefix}.scales"} <= stored and LAYER not in stored
    else:  # bitsandbytes and FP8 keep the name on the stored codes, beside their scales
        assert LAYER in stored and len(stored) > len(logical)
    fp = fingerprint(art)
    assert fp.info["quantized"]
    c = compare(base_fp, fp)
    assert c.relation == "quantized" and c.verdict == "derived", (kind, c.score)


def test_damaged_quantized_group_names_the_file(tmp_path, base):
    from safetensors.numpy import load_file, save_file

    copy = ql.write_gptq(base, tmp_path / "gptq")
    tensors = load_file(str(copy / "model.safetensors"))
    g = "model.layers.0.self_attn.q_proj.g_idx"
    tensors[g] = np.full_like(tensors[g], 99)  # indexes a group that does not exist
    save_file(tensors, str(copy / "model.safetensors"))
    from weightwatch.errors import ArtifactError

    t = {t.name: t for t in open_artifact(copy).model_tensors}
    with pytest.raises(ArtifactError, match=r"model\.safetensors.*g_idx does not index"):
        t["model.layers.0.self_attn.q_proj.weight"].to_float32()


@pytest.fixture(scope="module")
def k_base(tmp_path_factory, llama_family):  # type: ignore[no-untyped-def]
    """A tiny Llama whose rows are multiples of 256 (K-quants need 256-value blocks)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=1024,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("kbase")
    model.save_pretrained(out / "base")
    tok = Path(llama_family.tokenizer)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tok / f, out / "base" / f)
    return model, out


@pytest.mark.parametrize("qtype", ["Q4_K", "Q6_K"])
def test_gguf_k_quant_copies_link_as_quantized(k_base, llama_family, qtype):
    from weightwatch.testing.gguf_kquants import export_gguf_k

    model, out = k_base
    path = export_gguf_k(model, Path(llama_family.tokenizer), out / f"m-{qtype}.gguf", qtype=qtype)
    art = open_artifact(path)
    qtypes = {t.dtype for t in art.iter_tensors() if len(t.shape) == 2}
    assert qtype in qtypes
    down = next(t for t in art.iter_tensors() if t.name == "blk.0.ffn_down.weight")
    ref = model.model.layers[0].mlp.down_proj.weight.detach().numpy()
    got = down.to_float32()
    # read back through gguf's own dequantizer: the packing matches ggml's layout
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < (0.1 if qtype == "Q4_K" else 0.03)
    c = compare(fingerprint(out / "base"), fingerprint(art))
    assert c.relation == "quantized" and c.verdict == "derived", c.score
