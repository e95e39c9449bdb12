"""Issue #18 on real weights: Gemma 3 fingerprints at all (it stopped with a KeyError),
SmolLM2 and Gemma 3 are unrelated to each other, and SmolLM2's derivatives, made in NumPy
and written back as GGUF, are all linked to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightwatch.lineage import compare
from weightwatch.testing import gguf_derive

pytestmark = pytest.mark.slow


def test_gemma3_fingerprints(gemma3, fp):
    """Before: ``KeyError: "no llama.cpp name table for architecture 'gemma3'"``."""
    g = fp(gemma3)
    assert g.info["arch"] == "gemma3" and g.n_layers == 18 and g.info["hidden"] == 640
    assert g.info["kv_heads"] == 1 and len(g.anchors) >= 64


def test_smollm2_and_gemma3_are_unrelated_both_ways(smollm2, gemma3, fp):
    s, g = fp(smollm2), fp(gemma3)
    for a, b in ((s, g), (g, s)):
        c = compare(a, b)
        assert c.verdict == "unrelated", (c.score, c.p_value)


@pytest.fixture(scope="module")
def derivatives(smollm2, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("smollm2-derived")
    src = gguf_derive.load(smollm2)
    made = {
        "int8-requantized": gguf_derive.write(src, root / "q8_0.gguf", qtype="Q8_0"),
        "int4-requantized": gguf_derive.write(src, root / "q4_0.gguf", qtype="Q4_0"),
        "finetune-stand-in": gguf_derive.write(
            src, root / "perturbed.gguf", gguf_derive.perturb(0.3, seed=1)
        ),
        "mlp-permuted": gguf_derive.write(src, root / "permuted.gguf", gguf_derive.permute_mlp(2)),
        "pruned-30pct": gguf_derive.write(src, root / "pruned.gguf", gguf_derive.prune(0.3)),
    }
    return made


@pytest.mark.parametrize(
    "name",
    ["int8-requantized", "int4-requantized", "finetune-stand-in", "mlp-permuted", "pruned-30pct"],
)
def test_every_derivative_of_smollm2_is_linked_and_none_to_gemma3(
    smollm2, gemma3, derivatives, fp, name
):
    child = fp(derivatives[name])
    c = compare(fp(smollm2), child)
    assert c.verdict == "derived" and c.p_value <= 1e-3, (name, c.score, c.p_value)
    assert compare(fp(gemma3), child).verdict == "unrelated", name
