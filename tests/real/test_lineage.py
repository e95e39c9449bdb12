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
    ("name", "relation"),
    [
        ("int8-requantized", "quantized"),
        ("int4-requantized", "quantized"),  # was `pruned`: Q4_0's grid zeros read as pruning
        ("finetune-stand-in", "finetune"),
        ("mlp-permuted", "identical"),  # the same weights up to a hidden-space transform
        ("pruned-30pct", "pruned"),
    ],
)
def test_every_derivative_of_smollm2_is_linked_and_none_to_gemma3(
    smollm2, gemma3, derivatives, fp, name, relation
):
    child = fp(derivatives[name])
    c = compare(fp(smollm2), child)
    assert c.verdict == "derived" and c.p_value <= 1e-3, (name, c.score, c.p_value)
    assert c.relation == relation, (name, c.relation, c.score, child.info["zero_fraction"])
    assert compare(fp(gemma3), child).verdict == "unrelated", name


def test_smollm2_and_gemma3_share_no_units(smollm2, gemma3, fp):
    """The shared-units test itself on a real unrelated pair of different widths. Before:
    its rotation, fitted on the very layer it then tested, made the two agree on up to 17
    of 128 units per layer (log10 p = -37; the test was kept off by default and refused
    pairs of different widths). Cross-fitted, they agree on about one, as chance says."""
    from weightwatch.lineage.blocks import block_test

    s, g = fp(smollm2), fp(gemma3)
    for a, b in ((s, g), (g, s)):
        t = block_test(a, b)
        assert t is not None and t.log10_p > -3, t
        assert max(t.agree) <= 6, t.agree  # P(Poisson(1) > 6) < 1e-4 per layer


@pytest.fixture(scope="module")
def new_tokenizer_forks(smollm2, gemma3, tmp_path_factory) -> dict[str, Path]:
    """SmolLM2 with a new tokenizer (fresh token embeddings, blocks moved by 0.3 of their
    spread as a fine-tune stand-in) and Gemma 3, a trained unrelated model, given the same
    new tokenizer (its own fresh embeddings)."""
    import json

    from weightwatch.testing.reinit import new_tokenizer

    root = tmp_path_factory.mktemp("new-tokenizer")
    tok = new_tokenizer(root / "tokenizer")
    tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
    merges = [
        " ".join(m) if isinstance(m, list) else m
        for m in json.loads((root / "tokenizer" / "tokenizer.json").read_text())["model"]["merges"]
    ]
    made = {}
    for name, path, seed, edit in (
        ("smollm2-fork", smollm2, 1, gguf_derive.perturb(0.3, seed=2)),
        ("gemma3-same-tokenizer", gemma3, 3, None),
    ):
        src = gguf_derive.new_vocabulary(gguf_derive.load(path), tokens, merges, seed=seed)
        made[name] = gguf_derive.write(src, root / f"{name}.gguf", edit)
        del src
    return made


def test_new_tokenizer_fork_of_smollm2_is_linked_by_default(
    smollm2, gemma3, new_tokenizer_forks, fp
):
    """Issue #18: a fork with re-initialised embeddings and a new tokenizer is linked to its
    base at p <= 1e-3 by the default test, a trained unrelated model with the same new
    tokenizer is linked to neither, and neither is linked to Gemma 3."""
    s, g = fp(smollm2), fp(gemma3)
    fork, other = (fp(new_tokenizer_forks[k]) for k in ("smollm2-fork", "gemma3-same-tokenizer"))
    c = compare(s, fork)
    assert c.verdict == "derived" and c.log10_p <= -3, (c.log10_p, c.log10_p_fitted, c.blocks)
    assert c.relation == "finetune"
    assert c.log10_p_fitted is not None and c.log10_p_fitted > -3  # the anchors see nothing
    for parent in (s, fork):
        c = compare(parent, other)
        assert c.verdict == "unrelated", (c.log10_p, c.log10_p_fitted, c.blocks)
    assert compare(g, fork).verdict == "unrelated"
