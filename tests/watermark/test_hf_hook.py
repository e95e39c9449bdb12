"""The generation hook: batch-aware, top-k aware, and exact about what it changes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.watermark.helpers import fresh_key
from weightwatch.errors import UsageError
from weightwatch.watermark import KGW, WatermarkLogitsProcessor, get_scheme

torch = pytest.importorskip("torch")


def _inputs(batch: int, vocab: int, seed: int = 0):  # type: ignore[no-untyped-def]
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, 12), generator=gen)
    scores = torch.randn(batch, vocab, generator=gen)
    return ids, scores


def test_kgw_adds_delta_to_exactly_the_green_tokens() -> None:
    scheme = get_scheme("kgw", delta=2.0, context_width=2)
    assert isinstance(scheme, KGW)
    key = fresh_key("kgw")
    ids, scores = _inputs(4, 500)
    out = WatermarkLogitsProcessor(scheme, key)(ids, scores)
    cand = np.broadcast_to(np.arange(500), (4, 500))
    green = scheme.green_mask(ids.numpy(), cand, key)
    assert torch.allclose(out - scores, torch.from_numpy(2.0 * green).float())
    assert 0.2 < green.mean() < 0.3


def test_batch_rows_are_independent() -> None:
    for name in ("kgw", "gumbel"):
        scheme, key = get_scheme(name), fresh_key(name)
        proc = WatermarkLogitsProcessor(scheme, key, top_k=40)
        ids, scores = _inputs(6, 800, seed=1)
        together = proc(ids, scores)
        apart = torch.cat([proc(ids[i : i + 1], scores[i : i + 1]) for i in range(6)])
        assert torch.equal(together, apart)


def test_top_k_hashes_candidates_and_masks_the_rest() -> None:
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    ids, scores = _inputs(3, 50_000, seed=2)
    full = WatermarkLogitsProcessor(scheme, key)(ids, scores)
    topk = WatermarkLogitsProcessor(scheme, key, top_k=20)(ids, scores)
    index = torch.topk(scores, 20).indices
    assert torch.equal(torch.gather(topk, 1, index), torch.gather(full, 1, index))
    assert int(torch.isfinite(topk).sum()) == 3 * 20


def test_gumbel_picks_one_token_per_row_deterministically() -> None:
    scheme, key = get_scheme("gumbel"), fresh_key("gumbel")
    ids, scores = _inputs(5, 300, seed=3)
    proc = WatermarkLogitsProcessor(scheme, key)
    out = proc(ids, scores)
    assert torch.all(torch.isfinite(out).sum(dim=1) == 1)
    assert torch.equal(out, proc(ids, scores))
    chosen = out.argmax(dim=1)
    assert torch.all(out[torch.arange(5), chosen] == 0)


def test_gumbel_samples_the_model_distribution() -> None:
    # over random keys, argmax r^(1/p) is a draw from p: check frequencies on 3 tokens
    scheme = get_scheme("gumbel")
    p = np.array([0.6, 0.3, 0.1])
    logits = np.log(p)[None, :]
    ctx = np.array([[7]])
    cand = np.arange(3)[None, :]
    picks = [
        int(np.argmax(scheme.process_logits(ctx, cand, logits, fresh_key("gumbel"))[0]))
        for _ in range(3000)
    ]
    freq = np.bincount(picks, minlength=3) / 3000
    assert np.allclose(freq, p, atol=0.035)


def test_processor_refuses_bad_settings() -> None:
    with pytest.raises(UsageError):
        WatermarkLogitsProcessor(get_scheme("kgw"), fresh_key("kgw"), top_k=0)
    with pytest.raises(UsageError):
        WatermarkLogitsProcessor(get_scheme("kgw"), fresh_key("gumbel"))
    assert fresh_key("kgw").key_id not in repr(
        WatermarkLogitsProcessor(get_scheme("kgw"), fresh_key("kgw"))
    )
