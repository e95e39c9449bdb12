"""GaussMark in the real SmolLM2-135M-Instruct (its GGUF dequantized to float32).

Embeds the mark (sigma 0.07, the tied embedding: ``make watermark-durability-real`` chose
it by KL before generating anything), samples 4 texts of 200 tokens from the marked model
with no processor, and tests them with the one-pass statistic against the original: the
texts' combined (Stouffer) p-value must be small and each text must lean the key's way;
4 pieces of human text must not be flagged. Deterministic: fixed key, seed and texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.outputgrad import output_statistics
from weightwatch.watermark.weightio import embed_folder, load_reference

pytestmark = pytest.mark.slow


def test_gaussmark_in_the_real_model_is_detected_and_human_text_is_not(
    smollm2_folder: Path, tmp_path: Path
) -> None:
    import torch

    torch.set_num_threads(1)
    key = MasterSecret(bytes(range(32))).derive("real-test", scheme="gaussmark")
    scheme = GaussMark.from_params(sigma=0.07)
    assert isinstance(scheme, GaussMark)
    record = embed_folder(smollm2_folder, tmp_path / "marked", scheme=scheme, key=key)
    assert [t.name for t in record.tensors] == ["model.embed_tokens.weight"]  # tied output
    marked, tok = load_model(tmp_path / "marked")
    texts = ev.sample(marked, 4, seed=3, batch=4, bos=int(tok.bos_token_id))
    del marked
    ref = load_reference(smollm2_folder, scheme=scheme)
    psi = output_statistics(ref, [t.tolist() for t in texts], [key], batch=2)[:, 0]
    combined = float(psi.sum() / np.sqrt(psi.size))
    assert z_p_value(combined)[0] < 1e-4, psi
    assert (psi > 0).all(), psi
    human = ev.human_texts(tok, 4)
    psi_h = output_statistics(ref, [t.tolist() for t in human], [key], batch=2)[:, 0]
    assert z_p_value(float(psi_h.sum() / 2.0))[0] > 1e-3, psi_h
    other = MasterSecret(bytes(32)).derive("real-test", scheme="gaussmark")
    psi_other = output_statistics(ref, [t.tolist() for t in texts], [other], batch=2)[:, 0]
    assert z_p_value(float(psi_other.sum() / 2.0))[0] > 1e-3, psi_other


def test_gguf_folder_is_a_plain_float32_model(smollm2_folder: Path) -> None:
    import json

    cfg: dict[str, Any] = json.loads((smollm2_folder / "config.json").read_text())
    assert "quantization_config" not in cfg
    assert cfg["tie_word_embeddings"] is True
    assert (smollm2_folder / "tokenizer.json").is_file()
