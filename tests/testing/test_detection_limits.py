"""Bounds on any detector's power (testing.detection_limits), checked where the most
powerful test is known exactly: a Gaussian mean shift, whose log-likelihood ratio is
``mu x - mu^2 / 2`` and whose Neyman-Pearson power at level alpha is
``Phi(mu - z_alpha)``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from weightwatch.testing.detection_limits import (
    binary_kl,
    likelihood_ratio_power,
    max_power_from_kl,
)

ALPHA = 1e-3


def _np_power(mu: float, alpha: float) -> float:
    return float(stats.norm.sf(stats.norm.isf(alpha) - mu))


def test_binary_kl_matches_its_definition() -> None:
    assert binary_kl(0.3, 0.3) == 0.0
    assert binary_kl(0.9, 1e-3) == pytest.approx(
        0.9 * math.log(0.9 / 1e-3) + 0.1 * math.log(0.1 / 0.999)
    )
    assert binary_kl(1.0, 1e-3) == pytest.approx(math.log(1e3))


@pytest.mark.parametrize("mu", [1.0, 2.5, 4.0, 5.0])
def test_kl_bound_holds_for_the_most_powerful_test_and_is_not_trivial(mu: float) -> None:
    bound = max_power_from_kl(mu * mu / 2.0, ALPHA)  # KL(N(mu, 1) || N(0, 1))
    assert binary_kl(bound, ALPHA) == pytest.approx(mu * mu / 2.0, rel=1e-6) or bound == 1.0
    assert _np_power(mu, ALPHA) <= bound
    if mu <= 2.5:
        assert bound < 1.0


def test_kl_bound_edges() -> None:
    assert max_power_from_kl(0.0, ALPHA) == ALPHA
    assert max_power_from_kl(math.log(1.0 / ALPHA), ALPHA) == 1.0
    assert max_power_from_kl(1.0, ALPHA) < max_power_from_kl(2.0, ALPHA)
    with pytest.raises(ValueError):
        max_power_from_kl(1.0, 0.0)


@pytest.mark.parametrize("mu", [2.0, 4.0, 5.0])
def test_likelihood_ratio_bounds_bracket_the_most_powerful_test(mu: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(mu, 1.0, 400_000)  # texts from the alternative
    achievable, upper, _ = likelihood_ratio_power(mu * x - mu * mu / 2.0, ALPHA)
    exact = _np_power(mu, ALPHA)
    # the test at log(1/alpha) is valid, so it cannot beat the most powerful one; the bound
    # cannot fall below it; sampling error of 400,000 draws is under 0.003
    assert achievable <= exact + 0.003
    assert upper >= exact - 0.003
    # and it is informative: within 0.1 of the truth, sharper than the divergence bound
    assert upper - exact < 0.1
    assert upper <= max_power_from_kl(mu * mu / 2.0, ALPHA) + 0.003


def test_likelihood_ratio_power_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        likelihood_ratio_power([], ALPHA)
    with pytest.raises(ValueError):
        likelihood_ratio_power([1.0, float("nan")], ALPHA)
    assert likelihood_ratio_power([1e6, 2e6], ALPHA)[:2] == (1.0, 1.0)


def test_log_ratio_and_kl_agree_with_per_text_likelihoods() -> None:
    """The model helper against an independent code path: the difference of the two
    models' per-text NLLs, and a KL that is zero for a model against itself."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.watermark.tiny_model import tiny_llama
    from weightwatch.testing.wm_eval_real import log_ratio_and_kl, per_text_nll_and_argmax

    a, b = tiny_llama(0), tiny_llama(1)
    rng = np.random.default_rng(0)
    texts = [rng.integers(3, 1024, 12).astype(np.int64) for _ in range(5)]
    ratio, kl = log_ratio_and_kl(a, b, texts, bos=1, batch=2)
    nll_a, _ = per_text_nll_and_argmax(a, texts, bos=1)
    nll_b, _ = per_text_nll_and_argmax(b, texts, bos=1)
    np.testing.assert_allclose(ratio, (nll_b - nll_a) * 12, rtol=1e-4, atol=1e-4)
    assert np.all(kl > 0)
    same_ratio, same_kl = log_ratio_and_kl(a, a, texts, bos=1)
    np.testing.assert_allclose(same_ratio, 0.0, atol=1e-6)
    np.testing.assert_allclose(same_kl, 0.0, atol=1e-6)
