"""The one-pass GaussMark statistic and the in-place (blockwise) mark.

``output_statistics`` must equal the statistic of the full autograd gradient wherever the
mark is only the output projection (the tiny Llama's untied ``lm_head``), and
``GaussMark.add_noise_`` must write exactly ``w + perturbation`` however it splits the draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from weightwatch.errors import UsageError
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.outputgrad import output_statistics
from weightwatch.watermark.weightio import load_reference, log_likelihood_gradient

MASTER = MasterSecret(bytes(range(32)))


def test_in_place_mark_equals_the_whole_draw_across_blocks() -> None:
    scheme = GaussMark.from_params(sigma=0.6)
    assert isinstance(scheme, GaussMark)
    key = MASTER.derive("blocks", scheme="gaussmark")
    w = np.random.default_rng(0).normal(size=(5000, 1000)).astype(np.float32)  # 2 blocks
    noise, std = scheme.perturbation(key, "lm_head.weight", w.shape, 0.5)
    got = w.copy()
    assert scheme.add_noise_(key, "lm_head.weight", got, 0.5) == std
    assert np.array_equal(got, w + noise)
    with pytest.raises(UsageError, match="float32"):
        scheme.add_noise_(key, "lm_head.weight", w.astype(np.float64), 0.5)


def test_one_pass_statistic_equals_the_full_gradient_on_an_untied_head(
    llama_family: Any,
) -> None:
    import torch

    torch.set_num_threads(1)
    scheme = GaussMark.from_params(sigma=0.6)
    assert isinstance(scheme, GaussMark)
    ref = load_reference(llama_family.base, scheme=scheme)
    keys = [MASTER.derive(f"k{i}", scheme="gaussmark") for i in range(3)]
    rng = np.random.default_rng(0)
    texts = [rng.integers(1, 500, 60).tolist() for _ in range(5)]
    full = scheme.statistics([log_likelihood_gradient(ref, t) for t in texts], ref.stds, keys)
    fast = output_statistics(ref, texts, keys, batch=2)
    assert fast.shape == (5, 3)
    np.testing.assert_allclose(fast, full, atol=1e-4)
    assert np.abs(full).max() > 0.1  # not all zero


def test_one_pass_statistic_refuses_marks_off_the_output_matrix(llama_family: Any) -> None:
    scheme = GaussMark.from_params(sigma=0.6, targets=("down_proj",))
    assert isinstance(scheme, GaussMark)
    ref = load_reference(llama_family.base, scheme=scheme)
    key = MASTER.derive("k", scheme="gaussmark")
    with pytest.raises(UsageError, match="output projection"):
        output_statistics(ref, [[1, 2, 3]], [key])
    ref2 = load_reference(llama_family.base, scheme=GaussMark.from_params(sigma=0.6))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="same number of tokens"):
        output_statistics(ref2, [[1, 2, 3], [1, 2]], [key])
    with pytest.raises(UsageError, match="token ids"):
        output_statistics(ref2, [[1, 10**7]], [key])
