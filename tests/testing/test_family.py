"""The tiny families are real, loadable and deterministic; each derivative is what it claims."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import transformers

from weightwatch.testing import derive
from weightwatch.testing.models import TrainSpec, deterministic, new_model, train
from weightwatch.testing.tokenizer import save_tokenizer, train_tokenizer

pytestmark = pytest.mark.slow


def _load(path):
    return transformers.AutoModelForCausalLM.from_pretrained(path)


def _tok(family):
    return transformers.AutoTokenizer.from_pretrained(family.tokenizer)


def test_training_is_deterministic_and_learns(tmp_path):
    first, again = train_tokenizer(vocab_size=512), train_tokenizer(vocab_size=512)
    assert json.loads(first.to_str()) == json.loads(again.to_str())
    fast = save_tokenizer(first, tmp_path / "tok")
    states, curves = [], []
    for _ in range(2):
        with deterministic(5):
            m = new_model("llama", "tiny", len(fast), 5)
            curves.append(train(m, fast, TrainSpec(40, 3e-3, "a", 5)))
        states.append({k: v.clone() for k, v in m.state_dict().items()})
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert np.mean(curves[0][-5:]) < curves[0][0] - 1.0  # the loss falls


@pytest.mark.parametrize("fam", ["llama_family", "gpt2_family"])
def test_every_member_loads(request, fam):
    family = request.getfixturevalue(fam)
    for name, path in family.members().items():
        if name in ("tokenizer", "lora_adapter") or path.suffix == ".gguf":
            continue
        model = _load(path)
        assert model.config.model_type == family.arch, name
    assert transformers.AutoTokenizer.from_pretrained(family.base).chat_template


def test_permuted_copy_is_the_same_function(llama_family):
    base, perm = _load(llama_family.base), _load(llama_family.permuted)
    assert derive.max_logit_diff(base, perm, _tok(llama_family)) < 1e-4
    wb = base.model.layers[0].mlp.up_proj.weight
    wp = perm.model.layers[0].mlp.up_proj.weight
    assert not torch.allclose(wb, wp)
    # the same multiset of values, rearranged
    assert torch.equal(torch.sort(wb.flatten()).values, torch.sort(wp.flatten()).values)


def test_pruned_has_half_zeros_in_linear_layers(llama_family):
    pruned = _load(llama_family.pruned)
    w = pruned.model.layers[1].self_attn.q_proj.weight
    assert 0.49 <= float((w == 0).float().mean()) <= 0.51
    assert float((pruned.model.embed_tokens.weight == 0).float().mean()) < 0.01


def test_quantized_copies_are_on_a_grid(llama_family):
    base, q8 = _load(llama_family.base), _load(llama_family.int8)
    w, wq = base.model.layers[0].mlp.down_proj.weight, q8.model.layers[0].mlp.down_proj.weight
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    assert torch.allclose(wq / scale, torch.round(wq / scale), atol=1e-3)
    assert float((w - wq).abs().max()) <= float(scale.max()) / 2 + 1e-6


def test_finetune_is_close_but_different(llama_family):
    base, ft, ind = (
        _load(p) for p in (llama_family.base, llama_family.finetune, llama_family.independent)
    )
    wb, wf, wi = (m.model.layers[0].self_attn.q_proj.weight.flatten() for m in (base, ft, ind))
    assert not torch.equal(wb, wf)
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(wb, wf, dim=0)) > 0.9
    assert abs(float(cos(wb, wi, dim=0))) < 0.3


def test_lora_adapter_loads_on_base_with_peft(llama_family):
    from peft import PeftModel

    base = _load(llama_family.base)
    model = PeftModel.from_pretrained(base, llama_family.lora_adapter)
    merged = model.merge_and_unload()
    fresh = _load(llama_family.base)
    diff = (
        merged.model.layers[0].self_attn.q_proj.weight
        - fresh.model.layers[0].self_attn.q_proj.weight
    )
    assert float(diff.abs().max()) > 0  # the adapter changes q_proj
    assert torch.equal(
        merged.model.layers[0].mlp.up_proj.weight, fresh.model.layers[0].mlp.up_proj.weight
    )


def test_merge_is_the_average(llama_family):
    ft, lm, merged = (
        _load(p) for p in (llama_family.finetune, llama_family.lora_merged, llama_family.merged)
    )
    for name, p in merged.named_parameters():
        expected = 0.5 * dict(ft.named_parameters())[name] + 0.5 * dict(lm.named_parameters())[name]
        assert torch.allclose(p, expected, atol=1e-6), name


def test_cards_declare_lineage(llama_family):
    text = (llama_family.finetune / "README.md").read_text()
    assert "base_model_relation: finetune" in text and "base_model:" in text
    assert "base_model" not in (llama_family.independent / "README.md").read_text()
