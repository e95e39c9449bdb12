"""Issue #18 on real training: SmolLM2-135M fine-tuned for real (AdamW on all weights, and
a LoRA merged back with peft, on real text, starting from the real GGUF loaded through
transformers), and a model trained from scratch with SmolLM2's own tokenizer.

Lineage must link each fine-tune to SmolLM2 as a fine-tune at p <= 1e-3 and to neither
Gemma 3 nor MiniLM; the model that merely shares the tokenizer (same vocabulary, same
anchor tokens, trained on the same text) must be unrelated to SmolLM2 and its fine-tunes.
Built once per recipe in the fixture cache (``testing.real_finetune``,
``testing.real_population``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weightwatch.lineage import compare
from weightwatch.testing.real_finetune import TEST_FULL, TEST_LORA, build_finetune
from weightwatch.testing.real_population import TEST, build_population

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(smollm2: Path, smollm2_folder: Path) -> dict[str, Path]:
    """The two fine-tunes (one after the other, in a child process, each starting from the
    GGUF's float32 folder) and the model sharing the tokenizer (here), side by side: each
    trains on one thread, so on two cores the builds cost the longer of the two, not the
    sum."""
    from concurrent.futures import ThreadPoolExecutor

    def finetunes() -> dict[str, Path]:
        return {
            r.method: build_finetune(smollm2, r, f32=smollm2_folder) for r in (TEST_FULL, TEST_LORA)
        }

    with ThreadPoolExecutor(max_workers=1) as pool:
        fts = pool.submit(finetunes)
        other = build_population(smollm2, TEST).models[0]
        return {**fts.result(), "same-tokenizer": other}


@pytest.fixture(scope="module")
def finetunes(built: dict[str, Path]) -> dict[str, Path]:
    return built


@pytest.fixture(scope="module")
def same_tokenizer(built: dict[str, Path]) -> Path:
    return built["same-tokenizer"]


@pytest.mark.parametrize("method", ["full", "lora"])
def test_fine_tune_is_real(smollm2, finetunes, method):
    """The fine-tune trained (its recipe ran every step on finite losses) and moved every
    block weight off the base: not a copy of the dequantized GGUF."""
    from safetensors.numpy import load_file

    from weightwatch.artifacts import open_artifact

    rec = json.loads((finetunes[method] / "recipe.json").read_text())
    assert len(rec["loss"]) == rec["recipe"]["steps"] and all(np.isfinite(rec["loss"]))
    child = load_file(str(finetunes[method] / "model.safetensors"))
    base = {t.name: t for t in open_artifact(smollm2).iter_tensors()}
    w = base["blk.3.ffn_down.weight"].to_float32()
    c = child["model.layers.3.mlp.down_proj.weight"]
    assert c.shape == w.shape
    rel = float(np.linalg.norm(c - w) / np.linalg.norm(w))
    assert 1e-5 < rel < 0.05, rel


@pytest.mark.parametrize("method", ["full", "lora"])
def test_real_fine_tune_linked_to_smollm2_only(smollm2, gemma3, minilm, finetunes, fp, method):
    child = fp(finetunes[method])
    c = compare(fp(smollm2), child)
    assert c.verdict == "derived" and c.log10_p <= -3, (c.log10_p, c.log10_p_fitted, c.blocks)
    assert c.relation == "finetune", (c.relation, c.score, c.embedding_r, c.parent_share)
    for other in (gemma3, minilm):
        u = compare(fp(other), child)
        assert u.verdict == "unrelated", (other.name, u.log10_p, u.log10_p_fitted, u.blocks)


def test_real_fine_tune_re_exported_to_gguf_is_linked_to_smollm2_only(
    smollm2, gemma3, minilm, finetunes, fp, tmp_path
):
    """The full fine-tune written back to GGUF Q8_0 the way llama.cpp's converter writes a
    Llama (names, Q/K order, tied output left out, its tokenizer): what a fork publishes.
    Its 24 steps move the weights less than Q8_0's rounding does, so the weights show a
    quantized copy (``relation`` names the largest visible change)."""
    import torch
    import transformers

    from weightwatch.testing.gguf_export import export_gguf

    model = transformers.AutoModelForCausalLM.from_pretrained(
        finetunes["full"], dtype=torch.float32
    )
    out = export_gguf(model, finetunes["full"], tmp_path / "ft.Q8_0.gguf", qtype="Q8_0")
    child = fp(out)
    assert child.info["tied_embeddings"] and child.info["quantized"]
    c = compare(fp(smollm2), child)
    assert c.verdict == "derived" and c.log10_p <= -3, (c.log10_p, c.blocks)
    assert c.relation == "quantized", (c.relation, c.score)
    assert compare(fp(finetunes["full"]), child).verdict == "derived"
    for other in (gemma3, minilm):
        u = compare(fp(other), child)
        assert u.verdict == "unrelated", (other.name, u.log10_p, u.log10_p_fitted, u.blocks)


def test_trained_model_sharing_the_tokenizer_is_unrelated(smollm2, finetunes, same_tokenizer, fp):
    """Same 49,152-token vocabulary, so every anchor token is shared and the fitted test
    runs in full; trained independently, so both tests must find nothing."""
    other = fp(same_tokenizer)
    base = fp(smollm2)
    assert len(set(other.anchors) & set(base.anchors)) == len(base.anchors)
    for a, b in ((base, other), (other, base), (fp(finetunes["full"]), other)):
        c = compare(a, b)
        assert c.verdict == "unrelated", (c.log10_p, c.log10_p_fitted, c.blocks)
