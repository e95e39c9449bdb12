"""kgw-hf reproduces transformers' own watermark green lists, seeding and detection."""

from __future__ import annotations

import numpy as np
import pytest

from tests.watermark.tiny_model import ScaleLogits, generate, tiny_llama
from weightwatch.watermark import (
    KGWHF,
    MasterSecret,
    WatermarkKey,
    WatermarkLogitsProcessor,
    detect,
    get_scheme,
    hashing_key_of,
)

CASES = [("lefthash", 1), ("lefthash", 3), ("selfhash", 1), ("selfhash", 4)]


@pytest.mark.parametrize(("seeding", "width"), CASES)
def test_green_lists_equal_transformers(seeding: str, width: int) -> None:
    import torch
    from transformers.generation.logits_process import WatermarkLogitsProcessor as HFProcessor

    vocab = 777
    key = MasterSecret(bytes(range(32))).derive("compat", scheme="kgw-hf")
    scheme = get_scheme("kgw-hf", vocab_size=vocab, seeding_scheme=seeding, context_width=width)
    hf = HFProcessor(
        vocab_size=vocab,
        device="cpu",
        greenlist_ratio=0.25,
        seeding_scheme=seeding,
        context_width=width,
        hashing_key=hashing_key_of(key),
    )
    ids = np.random.default_rng(0).integers(0, vocab, 120)
    scores = scheme.score(ids, key)
    for i, value in enumerate(scores.values):
        t = scores.offset + i
        window = ids[t - width : t] if seeding == "lefthash" else ids[t - width + 1 : t + 1]
        green = set(hf._get_greenlist_ids(torch.tensor(window)).tolist())
        assert (int(ids[t]) in green) == bool(value), (t, seeding, width)
    assert scores.offset == (width if seeding == "lefthash" else width - 1)


def test_integer_keys_map_to_themselves() -> None:
    assert hashing_key_of(WatermarkKey.from_integer(15485863)) == 15485863


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seeding", "width", "sharpen"),
    # transformers' selfhash only biases its top-40 candidates: on the near-uniform
    # random model that is ~7% of the mass, so selfhash is tested on peaked distributions
    [("lefthash", 1, 1.0), ("selfhash", 2, 10.0)],
)
def test_transformers_generation_is_detected(seeding: str, width: int, sharpen: float) -> None:
    import torch
    from transformers import WatermarkDetector

    model = tiny_llama()
    key = MasterSecret(bytes(range(32))).derive("compat", scheme="kgw-hf")
    scheme = get_scheme("kgw-hf", vocab_size=1024, seeding_scheme=seeding, context_width=width)
    assert isinstance(scheme, KGWHF)
    config = scheme.watermarking_config(key)
    out = generate(
        model,
        [ScaleLogits(sharpen)],
        batch=8,
        tokens=200,
        seed=4,
        watermarking_config=config,
        do_sample=True,
        top_k=0,
    )
    hf = WatermarkDetector(model.config, "cpu", config, ignore_repeated_ngrams=True)(
        out, return_dict=True
    )
    for row, seq in enumerate(out.numpy()):
        ours = detect(seq, scheme=scheme, keys=key)
        assert ours.p_value < 1e-3 and ours.verdict == "watermarked"
        assert np.sign(ours.z) == np.sign(hf.z_score[row]) == 1
        if seeding == "lefthash" and width == 1:  # identical dedup rule: counts agree exactly
            assert ours.n_scored == hf.num_tokens_scored[row]
            assert ours.score == hf.num_green_tokens[row]
            assert ours.z == pytest.approx(hf.z_score[row])
    # unwatermarked text: neither detector fires
    plain = generate(
        model, [ScaleLogits(sharpen)], batch=8, tokens=200, seed=5, do_sample=True, top_k=0
    )
    hf_plain = WatermarkDetector(model.config, "cpu", config, ignore_repeated_ngrams=True)(
        plain, return_dict=True
    )
    for row, seq in enumerate(plain.numpy()):
        assert detect(seq, scheme=scheme, keys=key).p_value > 1e-3
        assert hf_plain.z_score[row] < 4
    # and our own hook with this scheme produces text transformers' detector accepts
    ours_out = generate(
        model,
        [ScaleLogits(sharpen), WatermarkLogitsProcessor(scheme, key)],
        batch=4,
        tokens=200,
        seed=6,
        do_sample=True,
        top_k=0,
    )
    assert bool(
        torch.all(torch.as_tensor(WatermarkDetector(model.config, "cpu", config)(ours_out)))
    )
