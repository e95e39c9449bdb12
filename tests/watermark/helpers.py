"""Shared test helpers: a cheap simulated language model driven by a scheme's hook."""

from __future__ import annotations

import numpy as np

from weightwatch.watermark import MasterSecret, WatermarkKey, WatermarkScheme


def fresh_key(scheme: str, name: str = "test") -> WatermarkKey:
    return MasterSecret.generate().derive(name, scheme=scheme)


def simulate(
    scheme: WatermarkScheme | None,
    key: WatermarkKey | None,
    *,
    batch: int,
    steps: int,
    vocab: int,
    scale: float,
    rng: np.random.Generator,
    prompt_len: int = 4,
) -> np.ndarray:
    """Sample ``steps`` tokens per row from random Gaussian logits (std ``scale``).

    With a scheme and key the logits go through ``scheme.process_logits`` first, exactly
    as the generation hook does; ``scale`` sets how peaked each distribution is.
    Returns only the generated tokens, (batch, steps).
    """
    ids = rng.integers(0, vocab, size=(batch, prompt_len), dtype=np.int64)
    cand = np.broadcast_to(np.arange(vocab, dtype=np.int64), (batch, vocab))
    for _ in range(steps):
        logits = rng.normal(size=(batch, vocab)) * scale
        if scheme is not None and key is not None:
            logits = scheme.process_logits(ids, cand, logits, key)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random((batch, 1))
        nxt = (p.cumsum(axis=1) < u).sum(axis=1)
        nxt = np.minimum(nxt, vocab - 1)
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
    return ids[:, prompt_len:]
