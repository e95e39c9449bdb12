"""Tensors read by weightwatch equal what transformers / torch / gguf load for the same files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightwatch.artifacts import FileFormat, open_artifact
from weightwatch.artifacts.llamacpp import gguf_to_hf_name, unpermute_qk

pytestmark = pytest.mark.slow


def _hf_state(path):
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    return model, {k: v.detach() for k, v in model.state_dict().items()}


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _torch_bits(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


@pytest.mark.parametrize(
    "member", ["base", "base_bin", "base_bin_legacy", "finetune", "int8", "pruned"]
)
@pytest.mark.parametrize("fam", ["llama_family", "gpt2_family"])
def test_tensors_equal_transformers_bitwise(request, fam, member):
    family = request.getfixturevalue(fam)
    path = getattr(family, member)
    model, ref = _hf_state(path)
    art = open_artifact(path)
    seen = set()
    for t in art.iter_tensors():
        assert t.name in ref, t.name
        assert _bits(t.data()) == _torch_bits(ref[t.name]), t.name
        assert not t.data().flags.writeable
        seen.add(t.name)
    # safetensors drops a tied lm_head: it may be missing only when it is really tied
    missing = set(ref) - seen
    assert missing <= {"lm_head.weight"}
    if missing:
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert art.totals.parameter_count == model.num_parameters()


def test_bin_and_safetensors_identical(llama_family):
    st = {t.name: _bits(t.data()) for t in open_artifact(llama_family.base).iter_tensors()}
    for member in (llama_family.base_bin, llama_family.base_bin_legacy):
        art = open_artifact(member)
        fmt = {f.path: f.format for f in art.files}["pytorch_model.bin"]
        assert fmt in (FileFormat.PYTORCH_ZIP, FileFormat.PYTORCH_LEGACY)
        assert {t.name: _bits(t.data()) for t in art.iter_tensors()} == st


def test_gpt2_tied_weights_counted_once(gpt2_family):
    model, _ = _hf_state(gpt2_family.base)
    for member in (gpt2_family.base, gpt2_family.base_bin, gpt2_family.base_bin_legacy):
        art = open_artifact(member)
        assert art.totals.parameter_count == model.num_parameters()
    art = open_artifact(gpt2_family.base_bin)
    assert ("lm_head.weight" in {b for _, b in art.totals.tied}) or (
        "transformer.wte.weight" in {b for _, b in art.totals.tied}
    )


def test_bf16_bitwise(tmp_path, llama_family):
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(llama_family.base).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "st")
    torch.save(model.state_dict(), tmp_path / "w.bin")
    ref = model.state_dict()
    for path in (tmp_path / "st", tmp_path / "w.bin"):
        for t in open_artifact(path).iter_tensors():
            assert t.dtype == "BF16"
            assert _bits(t.data()) == _torch_bits(ref[t.name])
            assert np.array_equal(t.to_float32(), ref[t.name].float().numpy())


def test_gguf_matches_gguf_reader_and_hf(llama_family):
    import gguf

    _, ref = _hf_state(llama_family.base)
    cfg = open_artifact(llama_family.base).config
    for path, tol in ((llama_family.gguf_f16, 1e-3), (llama_family.gguf_q8_0, 2e-2)):
        reader = gguf.GGUFReader(path)
        expected = {t.name: t for t in reader.tensors}
        art = open_artifact(path)
        assert art.family == "llama"
        assert art.gguf_metadata["llama.block_count"] == cfg.num_layers
        for t in art.iter_tensors():
            r = expected[t.name]
            if t.dtype in ("F32", "F16"):
                assert _bits(t.data()) == _bits(np.asarray(r.data)), t.name
            else:
                deq = gguf.quants.dequantize(np.asarray(r.data), r.tensor_type)
                assert np.array_equal(t.to_float32(), deq.reshape(t.shape)), t.name
            hf_name = gguf_to_hf_name(t.name, "llama")
            w = t.to_float32()
            if hf_name.endswith("q_proj.weight"):
                w = unpermute_qk(w, cfg.num_heads)
            elif hf_name.endswith("k_proj.weight"):
                w = unpermute_qk(w, cfg.num_kv_heads)
            hf = ref[hf_name].numpy()
            scale = np.abs(hf).max(axis=-1, keepdims=True) + 1e-12
            assert np.max(np.abs(w - hf) / scale) < tol, t.name
        assert art.totals.parameter_count == sum(v.numel() for v in ref.values())


def test_peft_adapter(llama_family):
    from safetensors.numpy import load_file

    art = open_artifact(llama_family.lora_adapter)
    assert art.adapter is not None and art.adapter.peft_type == "LORA"
    assert art.adapter.r == 8 and set(art.adapter.target_modules) == {"q_proj", "v_proj"}
    assert art.adapter.base_model == "weightwatch-testing/tiny-llama-s0"
    ref = load_file(llama_family.lora_adapter / "adapter_model.safetensors")
    got = {t.name: t.data() for t in art.iter_tensors()}
    assert got.keys() == ref.keys()
    for k in ref:
        assert np.array_equal(got[k], ref[k])
    assert art.card is not None and art.card.base_model_relation == "adapter"


def test_metadata(llama_family):
    art = open_artifact(llama_family.finetune)
    assert art.config.model_type == "llama" and art.config.num_layers == 2
    assert art.config.architectures == ("LlamaForCausalLM",)
    assert art.tokenizer is not None and art.tokenizer.vocab_size == 1024
    assert "default" in art.tokenizer.chat_templates
    assert art.card.license == "apache-2.0"
    assert art.card.base_model == ("weightwatch-testing/tiny-llama-s0",)
    assert art.card.base_model_relation == "finetune"
    assert art.totals.bytes_by_dtype == {"F32": 4 * art.totals.parameter_count}
