"""Under the null, p-values are uniform (or conservative) — the FPR guarantee, tested.

Null cases: random tokens, natural English (stdlib docstrings, with its repeated
phrases), and text watermarked under *another* key. Keys are drawn from a seeded RNG so
the outcome is reproducible. Discrete (binomial) p-values are randomised within their
atom, which makes them exactly uniform, before the Kolmogorov–Smirnov test.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from tests.watermark.helpers import simulate
from weightwatch.watermark import BinomialNull, MasterSecret, WatermarkScheme, detect, get_scheme

TRIALS = 300
LENGTH = 200
KS_LEVEL = 1e-3
ALPHA = 1e-2


def _key(rng: np.random.Generator, scheme: str):  # type: ignore[no-untyped-def]
    return MasterSecret(rng.bytes(32)).derive("null", scheme=scheme)


@pytest.fixture(scope="module")
def docstring_chunks() -> list[np.ndarray]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for path in sorted(stdlib.glob("*.py"))[:120]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(doc)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2048, show_progress=False))
    ids = np.array(tok.encode("\n\n".join(texts)).ids, dtype=np.int64)
    chunks = [ids[i : i + LENGTH] for i in range(0, len(ids) - LENGTH, LENGTH)]
    assert len(chunks) >= TRIALS
    return chunks[:TRIALS]


def _p_values(
    scheme: WatermarkScheme, sequences: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Reported p-values and their randomised (exactly uniform) versions."""
    raw, rand = [], []
    for seq in sequences:
        report = detect(seq, scheme=scheme, keys=_key(rng, scheme.name), min_scored=1)
        raw.append(report.p_value)
        null = scheme.null
        if isinstance(null, BinomialNull):
            rand.append(float(null.randomized_sf(report.score, report.n_scored, rng.random())))
        else:
            rand.append(report.p_value)
    return np.array(raw), np.array(rand)


def _check_null(raw: np.ndarray, rand: np.ndarray) -> None:
    ks = stats.kstest(rand, "uniform")
    assert ks.pvalue > KS_LEVEL, f"p-values not uniform under the null: {ks}"
    fpr = float(np.mean(raw <= ALPHA))
    assert fpr <= 2 * ALPHA, f"empirical FPR {fpr} at alpha {ALPHA}"
    # super-uniform at every level (discreteness only makes the test conservative)
    for level in (0.05, 0.2, 0.5):
        assert np.mean(raw <= level) <= level + 3 * np.sqrt(level * (1 - level) / raw.size)


SCHEMES = [
    ("kgw", {}),
    ("kgw", {"context_width": 2, "seeding": "selfhash"}),
    ("gumbel", {}),
    ("tournament", {}),
    ("tournament", {"depth": 7, "context_width": 2}),
]


@pytest.mark.parametrize(("name", "params"), SCHEMES)
def test_null_random_tokens(name: str, params: dict[str, object]) -> None:
    rng = np.random.default_rng(11)
    seqs = list(rng.integers(0, 32_000, size=(TRIALS, LENGTH)))
    _check_null(*_p_values(get_scheme(name, **params), seqs, rng))


@pytest.mark.parametrize(("name", "params"), SCHEMES)
def test_null_natural_text(
    name: str, params: dict[str, object], docstring_chunks: list[np.ndarray]
) -> None:
    rng = np.random.default_rng(12)
    _check_null(*_p_values(get_scheme(name, **params), docstring_chunks, rng))


@pytest.mark.parametrize(("name", "params"), SCHEMES)
def test_null_watermarked_under_another_key(name: str, params: dict[str, object]) -> None:
    rng = np.random.default_rng(13)
    scheme = get_scheme(name, **params)
    generated = simulate(
        scheme, _key(rng, name), batch=TRIALS, steps=LENGTH, vocab=500, scale=2.0, rng=rng
    )
    _check_null(*_p_values(scheme, list(generated), rng))


def test_windowed_search_keeps_its_false_positive_rate(docstring_chunks: list[np.ndarray]) -> None:
    rng = np.random.default_rng(14)
    scheme = get_scheme("kgw")
    text = np.concatenate(docstring_chunks)
    pieces = [text[i : i + 1000] for i in range(0, len(text) - 1000, 1000)][:60]
    pieces += list(rng.integers(0, 2048, size=(140, 1000)))
    p = np.array(
        [
            detect(seq, scheme=scheme, keys=_key(rng, "kgw"), windows=(32, 64, 128, 256)).p_value
            for seq in pieces
        ]
    )
    assert np.mean(p <= 0.05) <= 2 * 0.05
    assert np.mean(p <= 0.2) <= 0.2 + 3 * np.sqrt(0.2 * 0.8 / p.size)


def test_negative_control_without_deduplication_the_null_breaks() -> None:
    """Shows the uniformity check has teeth: counting repeats makes p-values non-uniform."""
    rng = np.random.default_rng(15)
    scheme = get_scheme("kgw")
    null = scheme.null
    assert isinstance(null, BinomialNull)
    rand_dedup, rand_naive = [], []
    for _ in range(TRIALS):
        phrase = rng.integers(0, 32_000, 20)
        seq = np.tile(phrase, 10)
        key = _key(rng, "kgw")
        scores = scheme.score(seq, key)
        g_all, n_all = scores.values.sum(), scores.values.size
        rand_naive.append(float(null.randomized_sf(g_all, n_all, rng.random())))
        report = detect(seq, scheme=scheme, keys=key, min_scored=1)
        rand_dedup.append(float(null.randomized_sf(report.score, report.n_scored, rng.random())))
    assert stats.kstest(rand_naive, "uniform").pvalue < 1e-6
    assert stats.kstest(rand_dedup, "uniform").pvalue > KS_LEVEL


@pytest.mark.parametrize(("gamma", "trials", "n"), [(0.25, 1, 7), (0.5, 1, 40), (0.25, 3, 12)])
def test_randomised_binomial_p_value_is_exactly_uniform(gamma: float, trials: int, n: int) -> None:
    """``P(p_rand <= alpha) = alpha`` exactly, computed over every score the null can give
    (no sampling), while the reported ``P(S >= s)`` stays below alpha: conservative."""
    null = BinomialNull(gamma, trials=trials)
    scores = np.arange(n * trials + 1)
    mass = null.pmf(scores, n)
    assert mass.sum() == pytest.approx(1.0)
    lo = null.randomized_sf(scores, n, 0.0)  # each score's p_rand spans [lo, lo + mass)
    reported = null.sf(scores, n)
    assert np.allclose(lo + mass, reported)  # U = 1 gives back the reported p-value
    for alpha in (1e-3, 0.01, 0.05, 0.3, 0.77):
        # P(p_rand <= alpha) = sum over scores of P(S = s) * P(lo + U * mass <= alpha)
        share = np.clip((alpha - lo) / np.where(mass > 0, mass, 1.0), 0.0, 1.0)
        assert float((mass * share).sum()) == pytest.approx(alpha, rel=1e-9, abs=1e-15)
        assert float(mass[reported <= alpha].sum()) <= alpha + 1e-12
