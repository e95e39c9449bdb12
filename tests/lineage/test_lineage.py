"""Relations between fingerprints, the index, and the CLI, on real tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weightwatch.cli import main
from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import FingerprintIndex, Null, Nulls, compare, explain
from weightwatch.lineage.relation import _align

pytestmark = pytest.mark.slow


def test_alignment_follows_dropped_and_duplicated_layers():
    r = np.full((4, 3), 0.0)
    r[0, 0] = r[2, 1] = r[3, 2] = 1.0  # child layers 0,1,2 are parent layers 0,2,3
    assert _align(r) == [(0, 0), (2, 1), (3, 2)]
    r = np.zeros((2, 3))
    r[0, 0] = r[1, 1] = r[1, 2] = 1.0  # parent layer 1 duplicated
    assert _align(r) == [(0, 0), (1, 1), (1, 2)]


def test_null_p_values_are_empirical_then_an_exponential_tail():
    rng = np.random.default_rng(0)
    scores = np.tanh(rng.normal(0.0, 0.02, 999)).tolist()
    null = Null.fit(scores, "t")
    assert null.p_value(0.0) == pytest.approx(0.5, abs=0.05)
    assert null.p_value(-1.0) == 1.0
    # in the body: (1 + #above) / (n + 1), exactly
    z = np.asarray(null.sample)  # sorted, as stored
    assert null.p_value(float(np.tanh(z[-200]))) == pytest.approx(201 / 1000, abs=1e-3)
    # in the tail: decreasing, below the empirical floor, never zero
    far = [null.p_value(s) for s in (0.08, 0.1, 0.2, 0.5)]
    assert far == sorted(far, reverse=True) and 0 < far[-1] < 1e-6
    # calibrated on fresh draws from the same distribution
    fresh = np.tanh(rng.normal(0.0, 0.02, 5000))
    for alpha in (0.1, 0.01):
        assert np.mean([null.p_value(float(s)) < alpha for s in fresh]) <= alpha * 1.3
    with pytest.raises(Exception, match="at least 10"):
        Null.fit([0.1] * 3, "t")


def test_relations_on_the_llama_family(llama_family, evasions):
    base = fingerprint(llama_family.base)
    expect = {
        "finetune": "finetune",
        "lora_merged": "finetune",
        "int8": "quantized",
        "int4": "quantized",
        "gguf_q8_0": "quantized",
        "pruned": "pruned",
        "merged": "finetune",  # ft + LoRA of the same base: a fine-tune of it
        "permuted": "identical",
        "independent": "unrelated",
    }
    for member, relation in expect.items():
        c = compare(base, fingerprint(getattr(llama_family, member)))
        assert c.relation == relation, (member, c.score, c.p_value)
        assert (c.verdict == "derived") == (relation != "unrelated")
    dropped = compare(base, fingerprint(evasions["layer_dropped"]))
    assert dropped.verdict == "derived" and len(dropped.layers) == 1
    # the card of the permuted copy says "finetune": no disagreement to report about the base
    c = compare(base, fingerprint(llama_family.finetune), parent_id="someone/else")
    assert any("someone/else" in d for d in c.disagreements)


def test_gpt2_derivatives_and_hard_negative(gpt2_family):
    base = fingerprint(gpt2_family.base)
    assert compare(base, fingerprint(gpt2_family.finetune)).verdict == "derived"
    assert compare(base, fingerprint(gpt2_family.independent)).verdict == "unrelated"


def test_index_finds_parents_and_merges(llama_family, gpt2_family, tmp_path):
    from weightwatch.testing import derive
    from weightwatch.testing.models import load

    idx = FingerprintIndex(tmp_path / "idx", create=True)
    idx.add("org/llama-base", fingerprint(llama_family.base))
    idx.add("org/llama-other", fingerprint(llama_family.independent))
    idx.add("org/gpt2-base", fingerprint(gpt2_family.base))
    reopened = FingerprintIndex(tmp_path / "idx")
    assert len(reopened) == 3
    found = explain(reopened.search(fingerprint(llama_family.finetune)), reopened)
    assert found.verdict == "derived" and [p.name for p in found.parents] == ["org/llama-base"]
    assert found.relation == "finetune"
    # a merge of two unrelated registered bases points at both
    merged = derive.merge(load(llama_family.base), load(llama_family.independent))
    out = tmp_path / "merged"
    merged.save_pretrained(out)
    for f in llama_family.tokenizer.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    both = explain(reopened.search(fingerprint(out)), reopened)
    assert both.relation == "merge"
    assert sorted(p.name for p in both.parents) == ["org/llama-base", "org/llama-other"]
    # an unregistered model is unrelated to all of them
    none = explain(reopened.search(fingerprint(gpt2_family.independent)), reopened)
    assert none.verdict == "unrelated" and none.parents == []


def test_uncalibrated_class_falls_back_to_the_most_cautious_null(llama_family):
    tight = Null.fit([0.01 * i for i in range(20)], "tight")
    wide = Null.fit([0.04 * i for i in range(20)], "wide")
    nulls = Nulls({"x": tight, "y": wide})
    base = fingerprint(llama_family.base)
    assert nulls.for_pair(base, base).source == "wide"


def test_cli_fingerprint_and_lineage(llama_family, tmp_path, capsys):
    fp_file = tmp_path / "base.wwfp"
    assert (
        main(
            [
                "fingerprint",
                str(llama_family.base),
                "-o",
                str(fp_file),
                "--add-to",
                str(tmp_path / "idx"),
                "--name",
                "org/base",
            ]
        )
        == 0
    )
    assert fp_file.is_file()
    capsys.readouterr()
    assert main(["lineage", str(llama_family.finetune), "--against", str(fp_file), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["verdict"] == "derived"
        and doc["relation"] == "finetune"
        and doc["schema_version"] == "1"
    )
    assert (
        main(["lineage", str(llama_family.independent), "--against", str(llama_family.base)]) == 0
    )
    assert "unrelated" in capsys.readouterr().out
    assert (
        main(["lineage", str(llama_family.gguf_q8_0), "--index", str(tmp_path / "idx"), "--json"])
        == 1
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["parents"][0]["name"] == "org/base" and doc["relation"] == "quantized"
    assert main(["lineage", str(llama_family.lora_adapter), "--against", str(fp_file)]) == 1
    assert "adapter" in capsys.readouterr().out
    assert main(["lineage", str(llama_family.base)]) == 2
    assert "exactly one of" in capsys.readouterr().err
    assert main(["lineage", str(tmp_path / "missing"), "--against", str(fp_file)]) == 2
