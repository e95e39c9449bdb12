"""Tournament sampling: the closed form is the knock-out tournament, unbiased over keys."""

from __future__ import annotations

import numpy as np
import pytest

from tests.watermark.helpers import fresh_key, simulate
from weightwatch.watermark import (
    BinomialNull,
    MasterSecret,
    Tournament,
    detect,
    get_scheme,
    registry,
)


def _scheme(**params: object) -> Tournament:
    scheme = get_scheme("tournament", **params)
    assert isinstance(scheme, Tournament)
    return scheme


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_registered_with_an_exact_binomial_null() -> None:
    assert registry()["tournament"] is Tournament
    null = _scheme(depth=12).null
    assert isinstance(null, BinomialNull) and null.trials == 12 and null.gamma == 0.5


def test_closed_form_matches_a_played_out_tournament() -> None:
    """Play 2**depth draws through the knock-out, many times, and compare frequencies."""
    depth, vocab, plays = 3, 6, 200_000
    scheme, key = _scheme(depth=depth), fresh_key("tournament")
    rng = np.random.default_rng(0)
    context = np.array([[5, 7]])
    cand = np.arange(vocab)[None, :]
    logits = rng.normal(size=(1, vocab)) * 1.5
    p = _softmax(logits[0])
    closed = np.exp(scheme.process_logits(context, cand, logits, key)[0])
    g = scheme.g_values(context, cand, key)[0]  # (vocab, depth)
    players = rng.choice(vocab, size=(plays, 2**depth), p=p)
    for layer in range(depth):
        a, b = players[:, 0::2], players[:, 1::2]
        ga, gb = g[a, layer], g[b, layer]
        coin = rng.random(a.shape) < 0.5
        players = np.where((ga > gb) | ((ga == gb) & coin), a, b)
    freq = np.bincount(players[:, 0], minlength=vocab) / plays
    assert np.allclose(closed.sum(), 1.0)
    assert np.all(np.abs(freq - closed) <= 5 * np.sqrt(closed * (1 - closed) / plays) + 1e-12)
    assert np.abs(closed - p).max() > 0.02  # the key did change the distribution


def test_unbiased_on_average_over_keys() -> None:
    scheme = _scheme(depth=8)
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(1, 20)) * 2.0
    p = _softmax(logits[0])
    cand, context = np.arange(20)[None, :], np.array([[3, 9]])
    keys = 3000
    mean, single = np.zeros(20), []
    for i in range(keys):
        key = MasterSecret(rng.bytes(32)).derive(str(i), scheme="tournament")
        q = np.exp(scheme.process_logits(context, cand, logits, key)[0])
        mean += q
        single.append(np.abs(q - p).max())
    mean /= keys
    # each key's distribution is a strong random reweighting whose expectation is p
    assert np.median(single) > 0.1
    assert np.abs(mean - p).max() < 0.01


def test_score_counts_the_g_value_bits_of_each_token() -> None:
    scheme, key = _scheme(depth=20, context_width=2), fresh_key("tournament")
    ids = np.random.default_rng(2).integers(0, 5000, 300)
    scores = scheme.score(ids, key)
    for t in (2, 50, 299):
        bits = scheme.g_values(ids[None, t - 2 : t], ids[None, t : t + 1], key)[0, 0]
        assert scores.values[t - 2] == bits.sum()
    report = detect(ids, scheme=scheme, keys=key, min_scored=1)
    assert report.green_fraction is not None and abs(report.green_fraction - 0.5) < 0.05


def test_watermarked_text_is_detected_and_other_keys_are_not_fooled() -> None:
    scheme, key = _scheme(), fresh_key("tournament")
    rng = np.random.default_rng(3)
    wm = simulate(scheme, key, batch=10, steps=200, vocab=1000, scale=2.0, rng=rng)
    for seq in wm:
        hit = detect(seq, scheme=scheme, keys=key)
        assert hit.verdict == "watermarked" and hit.green_fraction is not None
        assert hit.green_fraction > 0.55
        assert detect(seq, scheme=scheme, keys=fresh_key("tournament")).p_value > 1e-4


def test_bad_parameters_and_foreign_keys_are_refused() -> None:
    from weightwatch.errors import UsageError

    with pytest.raises(UsageError):
        get_scheme("tournament", depth=0)
    with pytest.raises(UsageError):
        get_scheme("tournament", depth=65)
    with pytest.raises(UsageError):
        _scheme().score([1, 2, 3], fresh_key("kgw"))


def test_popcount_both_paths_agree_with_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from weightwatch.watermark import hashing

    words = np.random.default_rng(4).integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2)
    words[:3] = [0, 2**64 - 1, 2**63]
    expected = [bin(int(w)).count("1") for w in words]
    assert hashing.popcount(words).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # the NumPy < 2 path
    assert hashing.popcount(words).tolist() == expected
