"""GaussMark's pure core: keyed noise, matrix choice, the exact null of its statistic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.watermark.helpers import fresh_key
from weightwatch.errors import UsageError
from weightwatch.watermark import get_weight_scheme, weight_registry
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.weightdetect import adjust_max, recipient_key


def _scheme(**params: object) -> GaussMark:
    s = get_weight_scheme("gaussmark", **params)
    assert isinstance(s, GaussMark)
    return s


def test_registered_beside_the_sampling_schemes() -> None:
    assert "gaussmark" in weight_registry()
    with pytest.raises(UsageError):
        get_weight_scheme("gaussmark", sigma=-1.0)


def test_noise_is_a_deterministic_function_of_key_and_tensor() -> None:
    s = _scheme()
    key = fresh_key("gaussmark")
    a = s.unit_noise(key, "lm_head.weight", (64, 32))
    assert np.array_equal(a, s.unit_noise(key, "lm_head.weight", (64, 32)))
    other = s.unit_noise(fresh_key("gaussmark"), "lm_head.weight", (64, 32))
    assert abs(np.corrcoef(a.ravel(), other.ravel())[0, 1]) < 0.1
    assert abs(np.corrcoef(a.ravel(), s.unit_noise(key, "x.weight", (64, 32)).ravel())[0, 1]) < 0.1
    noise, std = s.perturbation(key, "lm_head.weight", (256, 256), rms=0.05)
    assert std == pytest.approx(0.6 * 0.05)
    assert float(noise.std()) == pytest.approx(std, rel=0.02)
    with pytest.raises(UsageError, match="derived for scheme 'kgw'"):
        s.unit_noise(fresh_key("kgw"), "lm_head.weight", (2, 2))
    with pytest.raises(UsageError, match="all zeros"):
        s.perturbation(key, "lm_head.weight", (2, 2), rms=0.0)


def test_matrix_choice() -> None:
    shapes = {
        "lm_head.weight": (100, 16),
        "model.embed_tokens.weight": (100, 16),
        "model.layers.0.mlp.up_proj.weight": (32, 16),
        "model.layers.1.mlp.up_proj.weight": (32, 16),
        "model.norm.weight": (16,),
    }
    assert _scheme().select(shapes) == ["lm_head.weight"]
    tied = {k: v for k, v in shapes.items() if k != "lm_head.weight"}
    assert _scheme().select(tied) == ["model.embed_tokens.weight"]
    assert _scheme(targets=["mlp.up_proj"], layers=[1]).select(shapes) == [
        "model.layers.1.mlp.up_proj.weight"
    ]
    with pytest.raises(UsageError, match="no weight matrix matches"):
        _scheme(targets=["attn.c_attn"]).select(shapes)


def test_statistic_is_exactly_standard_normal_for_a_fixed_gradient() -> None:
    """Two matrices with different noise scales: the weighting must make psi N(0, 1)."""
    rng = np.random.default_rng(5)
    grads = {"a.weight": rng.normal(size=(40, 8)) * 3.0, "b.weight": rng.normal(size=(8, 8))}
    grads["a.weight"][0] += 50.0  # a gradient dominated by one direction changes nothing
    stds = {"a.weight": 0.01, "b.weight": 0.2}
    master = MasterSecret(rng.bytes(32))
    keys = [master.derive(f"k{i}", scheme="gaussmark") for i in range(2000)]
    psi = _scheme().statistic(grads, stds, keys)
    assert stats.kstest(psi, "norm").pvalue > 1e-3
    assert np.allclose(_scheme().statistics([grads, grads], stds, keys[:5])[1], psi[:5])


def test_max_over_keys_is_adjusted_exactly() -> None:
    rng = np.random.default_rng(11)
    best = rng.standard_normal((4000, 100)).max(axis=1)
    adjusted = [adjust_max(*z_p_value(float(x)), 100)[0] for x in best]
    assert stats.kstest(adjusted, "uniform").pvalue > 1e-3
    assert adjust_max(1e-20, -20.0, 100) == pytest.approx((1e-18, -18.0))
    p, log10_p = z_p_value(40.0)
    assert p < 1e-300 and log10_p < -340  # finite far into the tail


def test_recipient_keys_are_per_grant() -> None:
    master = MasterSecret(bytes(32))
    a, b = recipient_key(master, "grant-1"), recipient_key(master, "grant-2")
    assert a != b and a == recipient_key(master, "grant-1")
    assert a.deployment == "recipient/grant-1" and a.scheme == "gaussmark"
    with pytest.raises(UsageError):
        recipient_key(master, "")
