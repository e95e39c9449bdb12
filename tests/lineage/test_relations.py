"""Issue #18 defects in lineage: p-values that print as 0, and misnamed relations."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from weightwatch.cli import main
from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import Null, compare, p_text
from weightwatch.lineage.pvalue import P_FLOOR, log10_adjusted

pytestmark = pytest.mark.slow


def test_p_values_far_in_the_tail_are_never_exactly_zero():
    null = Null.fit(np.tanh(np.random.default_rng(0).normal(0.0, 0.005, 200)).tolist(), "t")
    # main printed p = 0 here: exp(-(z - u) / beta) underflows for a tight null
    assert null.p_value(0.9999) > 0
    log10_p = null.log10_p(0.9999)
    assert math.isfinite(log10_p) and log10_p < -300
    assert null.p_value(0.9999) == P_FLOOR  # the float is a bound, log10 p is exact
    assert p_text(-412.27) == "5.37e-413" and p_text(-2.5) == "0.00316"
    assert p_text(log10_p).endswith(f"e{math.floor(log10_p)}")
    assert log10_adjusted(-400.0, 100) == pytest.approx(-398.0)
    assert log10_adjusted(-0.5, 100) == 0.0


def test_json_and_cli_report_log10_p(llama_family, tmp_path, capsys):
    argv = ["lineage", str(llama_family.int8), "--against", str(llama_family.base)]
    assert main([*argv, "--test", "both", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["p_value"] > 0 and doc["log10_p"] < -100
    assert doc["blocks"]["log10_p"] < -100 and doc["log10_p_fitted"] < -100


def _save(model, tok: Path, out: Path) -> Path:  # type: ignore[no-untyped-def]
    model.save_pretrained(out)
    for f in tok.iterdir():
        if f.is_file():
            shutil.copy(f, out / f.name)
    return out


def _slerp(a, b, t: float = 0.5):  # type: ignore[no-untyped-def]
    """Spherical interpolation per tensor, as mergekit's SLERP does."""
    import torch

    model = copy.deepcopy(a)
    other = dict(b.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            x, y = p.flatten(), other[name].flatten()
            cos = torch.clamp(torch.dot(x / x.norm(), y / y.norm()), -1.0, 1.0)
            omega = torch.arccos(cos)
            if float(omega) < 1e-4:
                continue
            mixed = (torch.sin((1 - t) * omega) * x + torch.sin(t * omega) * y) / torch.sin(omega)
            p.copy_(mixed.reshape(p.shape))
    return model


@pytest.fixture(scope="module")
def built(llama_family, tmp_path_factory):  # type: ignore[no-untyped-def]
    from weightwatch.testing import derive
    from weightwatch.testing.gguf_export import export_gguf
    from weightwatch.testing.models import load

    root = tmp_path_factory.mktemp("relations")
    base, other = load(llama_family.base), load(llama_family.independent)
    tok = llama_family.tokenizer
    return {
        "pruned30": _save(derive.prune(base, fraction=0.3), tok, root / "pruned30"),
        "linear": _save(derive.merge(base, other), tok, root / "linear"),
        "linear70": _save(derive.merge(base, other, weight=0.7), tok, root / "linear70"),
        "slerp": _save(_slerp(base, other), tok, root / "slerp"),
        "q4_0": export_gguf(base, tok, root / "q4" / "model.gguf", qtype="Q4_0", name="q4"),
    }


def test_pruned_copies_are_named_pruned(llama_family, built):
    base = fingerprint(llama_family.base)
    for path in (built["pruned30"], llama_family.pruned):  # 30% and 50% magnitude pruning
        c = compare(base, fingerprint(path))
        assert (c.verdict, c.relation) == ("derived", "pruned"), (path, c.score)


def test_an_int8_copy_is_quantized_against_a_quantized_parent_too(llama_family, built):
    int8 = fingerprint(llama_family.int8)
    for parent in (built["q4_0"], llama_family.base):  # the Q4 parent and a float one
        c = compare(fingerprint(parent), int8)
        assert (c.verdict, c.relation) == ("derived", "quantized"), (parent, c.score)


def test_a_q4_0_copy_of_a_quantized_parent_is_quantized_not_pruned(llama_family, built, tmp_path):
    """Q4_0's symmetric grid stores about 10% of the weights as 0 with nothing pruned;
    against a quantized parent that read as pruning (SmolLM2's own Q4_0 re-export was
    named ``pruned``). A pruned copy stored the same way is still ``pruned``."""
    from weightwatch.testing import derive
    from weightwatch.testing.gguf_export import export_gguf
    from weightwatch.testing.models import load

    tok = llama_family.tokenizer
    q8 = export_gguf(load(llama_family.base), tok, tmp_path / "q8" / "m.gguf", qtype="Q8_0")
    parent, q4 = fingerprint(q8), fingerprint(built["q4_0"])
    assert float(q4.info["zero_fraction"]) < 0.05, q4.info["zero_fraction"]
    c = compare(parent, q4)
    assert (c.verdict, c.relation) == ("derived", "quantized"), (c.score, q4.info)
    cut = derive.prune(load(llama_family.base), fraction=0.3)
    pruned = fingerprint(export_gguf(cut, tok, tmp_path / "pq4" / "m.gguf", qtype="Q4_0"))
    c = compare(parent, pruned)
    assert (c.verdict, c.relation) == ("derived", "pruned"), (c.score, pruned.info)


def test_merges_are_named_merge(llama_family, built):
    base, other = fingerprint(llama_family.base), fingerprint(llama_family.independent)
    for name in ("linear", "linear70", "slerp"):
        merged = fingerprint(built[name])
        for parent in (base, other) if name != "linear70" else (base,):
            c = compare(parent, merged)
            assert (c.verdict, c.relation) == ("derived", "merge"), (name, c.parent_share)
    # fine-tunes keep what they had: a share near 1, never a merge
    for member in ("finetune", "lora_merged", "merged"):
        c = compare(base, fingerprint(getattr(llama_family, member)))
        assert c.relation == "finetune" and c.parent_share > 0.8, member
