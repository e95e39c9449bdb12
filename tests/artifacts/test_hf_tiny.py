"""The brief's tiny Llama, saved by transformers and by torch.save, tied and untied:
parameter counts equal ``model.num_parameters()`` and every format yields the same bits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightwatch.artifacts import FileFormat, open_artifact

pytestmark = pytest.mark.slow


def _tiny(tie: bool):
    import transformers

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=tie,
    )
    return transformers.LlamaForCausalLM(cfg)


def _bits(art, **kw) -> dict[str, bytes]:
    return {t.name: t.data().tobytes() for t in art.iter_tensors(**kw)}


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_save_pretrained_and_state_dict_agree(tmp_path, tie):
    model = _tiny(tie)
    model.save_pretrained(tmp_path / "hf")
    state = model.state_dict()
    torch.save(state, tmp_path / "hf" / "pytorch_model.bin")
    torch.save(state, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    art = open_artifact(tmp_path / "hf")
    assert art.primary_files == ("model.safetensors",)  # the .bin is not counted again
    assert art.config is not None and art.config.tie_word_embeddings is tie
    assert art.family == "llama" and art.config.num_kv_heads == 1
    assert art.totals.parameter_count == model.num_parameters()
    st = _bits(art)
    zipped = open_artifact(tmp_path / "hf" / "pytorch_model.bin")
    legacy = open_artifact(tmp_path / "legacy.bin")
    assert zipped.files[0].format is FileFormat.PYTORCH_ZIP
    assert legacy.files[0].format is FileFormat.PYTORCH_LEGACY
    for other in (zipped, legacy):
        bits = _bits(other)
        # safetensors drops the tied lm_head; the state dict keeps both names on one storage
        assert set(bits) - set(st) == ({"lm_head.weight"} if tie else set())
        assert {k: v for k, v in bits.items() if k in st} == st
        assert other.totals.parameter_count == model.num_parameters()
    ref = {k: v.detach().numpy().tobytes() for k, v in state.items()}
    assert _bits(zipped) == ref
    if tie:
        assert ("model.embed_tokens.weight", "lm_head.weight") in zipped.totals.tied
    # per-file access to the non-primary copy inside the folder
    assert _bits(art, file="pytorch_model.bin") == ref


def test_tied_by_config_but_stored_twice(tmp_path):
    """A folder whose safetensors holds lm_head as a separate copy with identical bytes
    under tie_word_embeddings counts it once."""
    from safetensors.torch import save_file

    model = _tiny(True)
    model.save_pretrained(tmp_path)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    art = open_artifact(tmp_path)
    assert "lm_head.weight" in {t.name for t in art.iter_tensors()}
    assert art.totals.parameter_count == model.num_parameters()
    assert ("model.embed_tokens.weight", "lm_head.weight") in art.totals.tied


def test_peft_adapter_folder(tmp_path):
    from peft import LoraConfig, get_peft_model
    from safetensors.numpy import load_file

    model = _tiny(False)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    peft_model = get_peft_model(model, cfg)
    peft_model.save_pretrained(tmp_path)
    art = open_artifact(tmp_path)
    assert art.adapter is not None
    assert art.adapter.peft_type == "LORA" and art.adapter.r == 4 and art.adapter.lora_alpha == 8
    assert set(art.adapter.target_modules) == {"q_proj", "v_proj"}
    assert art.primary_files == ("adapter_model.safetensors",)
    ref = load_file(tmp_path / "adapter_model.safetensors")
    got = {t.name: t.data() for t in art.iter_tensors()}
    assert got.keys() == ref.keys() and len(ref) == 4
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert art.totals.parameter_count == trainable
