"""GaussMark on the tiny Llama: embed, exact null on human text, detection, tracing, CLI.

The bounded version of ``make watermark-eval`` (docs/watermark.md has the full table):
every figure here comes from a few dozen seeded texts, so the test is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from weightwatch.cli import main
from weightwatch.testing import derive
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret, get_weight_scheme
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.weightdetect import (
    detect_derivative,
    detect_text_weights,
    recipient_key,
)
from weightwatch.watermark.weightio import embed_folder, load_reference, read_record

pytestmark = pytest.mark.slow
MASTER = MasterSecret(bytes(range(32)))


@pytest.fixture(scope="module")
def marked(llama_family: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("gaussmark") / "marked"
    key = MASTER.derive("release", scheme="gaussmark")
    scheme = get_weight_scheme("gaussmark")
    record = embed_folder(llama_family.base, out, scheme=scheme, key=key)
    model, tok = load_model(out)
    return {
        "dir": out,
        "key": key,
        "record": record,
        "model": model,
        "tok": tok,
        "ref": load_reference(llama_family.base, scheme=scheme),
    }


def test_embed_changes_only_the_marked_matrix(llama_family: Any, marked: dict[str, Any]) -> None:
    from safetensors.numpy import load_file

    before = load_file(str(llama_family.base / "model.safetensors"))
    after = load_file(str(marked["dir"] / "model.safetensors"))
    assert [t.name for t in marked["record"].tensors] == ["lm_head.weight"]
    changed = [n for n in before if not np.array_equal(before[n], after[n])]
    assert changed == ["lm_head.weight"]
    assert read_record(marked["dir"]) == marked["record"]
    assert (marked["dir"] / "tokenizer.json").is_file()


def test_null_p_values_are_exact_on_human_text(marked: dict[str, Any]) -> None:
    """120 human texts, a fresh key each: the p-values are uniform (KS), none below 1e-3."""
    texts = ev.human_texts(marked["tok"], 120)
    keys = [MASTER.derive(f"null-{i}", scheme="gaussmark") for i in range(len(texts))]
    p = [detect_text_weights(t, marked["ref"], k).p_value for t, k in zip(texts, keys, strict=True)]
    assert stats.kstest(p, "uniform").pvalue > 1e-3
    assert sum(x <= 1e-2 for x in p) <= 5  # Binomial(120, 0.01): P(> 5) < 1e-3


def test_detects_text_of_the_marked_model_and_not_of_the_original(
    llama_family: Any, marked: dict[str, Any]
) -> None:
    texts = ev.sample(marked["model"], 30, seed=3)
    reports = [detect_text_weights(t, marked["ref"], marked["key"]) for t in texts]
    assert np.mean([r.verdict == "watermarked" for r in reports]) >= 0.8
    assert reports[0].reference == "original" and reports[0].n_tokens == 200
    # the marked folder minus its keyed noise is the original, up to float rounding
    from_marked = load_reference(
        marked["dir"], key_for_record={marked["key"].key_id: marked["key"]}
    )
    assert from_marked.reference == "marked-minus-key"
    again = detect_text_weights(texts[0], from_marked, marked["key"])
    assert again.psi == pytest.approx(reports[0].psi, abs=1e-3)
    base, _ = load_model(llama_family.base)
    plain = ev.sample(base, 10, seed=4)
    assert all(detect_text_weights(t, marked["ref"], marked["key"]).p_value > 1e-3 for t in plain)


def test_derivative_weights_carry_the_mark(llama_family: Any, marked: dict[str, Any]) -> None:
    ref, key = marked["ref"], marked["key"]
    folder = marked["dir"].parent / "int4"
    derive.quantize(marked["model"], bits=4).save_pretrained(folder)
    found = detect_derivative(folder, ref, key)
    assert found.verdict == "watermarked" and found.log10_p_value < -100
    # an unmarked fine-tune of the original: psi exactly N(0, 1), nothing found
    clean = detect_derivative(llama_family.finetune, ref, key)
    assert clean.verdict == "not_watermarked"
    same = detect_derivative(llama_family.base, ref, key)
    assert same.verdict == "too_short"


def test_trace_names_the_recipient(llama_family: Any, marked: dict[str, Any]) -> None:
    grants = [f"grant-{i:03d}" for i in range(100)]
    keys = [recipient_key(MASTER, g) for g in grants]
    copy_dir = marked["dir"].parent / "copy-42"
    embed_folder(llama_family.base, copy_dir, scheme=get_weight_scheme("gaussmark"), key=keys[42])
    copy, tok = load_model(copy_dir)
    derived = marked["dir"].parent / "derived-42"
    derive.finetune(copy, tok, steps=30, lr=1e-4).save_pretrained(derived)
    report = detect_derivative(derived, marked["ref"], keys)
    assert report.verdict == "watermarked" and report.deployment == "recipient/grant-042"
    assert report.keys_tested == 100 and report.p_value < 1e-50
    texts = ev.sample(copy, 10, seed=5)
    named = [detect_text_weights(t, marked["ref"], keys, alpha=1e-2) for t in texts]
    right = [r.deployment == "recipient/grant-042" for r in named if r.verdict == "watermarked"]
    # at sigma 0.6, 200 tokens and 100 keys, about half the texts are named (the full
    # evaluation measures the rate; docs/watermark.md): never a wrong one
    assert all(right) and len(right) >= 4
    # human text accuses nobody
    for t in ev.human_texts(tok, 10):
        assert detect_text_weights(t, marked["ref"], keys).verdict == "not_watermarked"


def test_cli_embed_detect_trace(
    llama_family: Any, marked: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    master = tmp_path / "master.json"
    MASTER.save(master)
    out = tmp_path / "marked"
    assert (
        main(["watermark", "embed", str(llama_family.base), "--key", str(master), "-o", str(out)])
        == 0
    )
    assert (
        main(["watermark", "embed", str(llama_family.base), "--key", str(master), "-o", str(out)])
        == 2
    )
    assert "not empty" in capsys.readouterr().err
    assert (
        main(["watermark", "embed", str(out), "--key", str(master), "-o", str(tmp_path / "x")]) == 2
    )
    assert "already watermarked" in capsys.readouterr().err
    assert (
        main(
            [
                "watermark",
                "embed",
                str(llama_family.gguf_f16),
                "--key",
                str(master),
                "-o",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "not a model folder" in capsys.readouterr().err

    model, _ = load_model(out)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(ev.sample(model, 1, seed=3)[0].tolist()))
    capsys.readouterr()
    assert (
        main(
            [
                "watermark",
                "detect",
                str(ids),
                "--model-dir",
                str(out),
                "--key",
                str(master),
                "--json",
            ]
        )
        == 1
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "watermarked" and doc["reference"] == "marked-minus-key"
    # a marked folder cannot be tested with a key it was not marked with
    assert (
        main(
            [
                "watermark",
                "detect",
                str(ids),
                "--model-dir",
                str(out),
                "--key",
                str(master),
                "--deployment",
                "other",
            ]
        )
        == 2
    )
    assert "was marked with key" in capsys.readouterr().err
    assert (
        main(
            [
                "watermark",
                "detect",
                str(ids),
                "--model-dir",
                str(llama_family.base),
                "--key",
                str(master),
                "--deployment",
                "other",
            ]
        )
        == 0
    )

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([1, 2, 5000]))
    capsys.readouterr()
    assert (
        main(["watermark", "detect", str(bad), "--model-dir", str(out), "--key", str(master)]) == 2
    )
    assert "token ids must lie in [0, 1024)" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    (tmp_path / "broken" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    assert (
        main(
            [
                "watermark",
                "embed",
                str(tmp_path / "broken"),
                "--key",
                str(master),
                "-o",
                str(tmp_path / "z"),
            ]
        )
        == 2
    )
    assert "model.safetensors" in capsys.readouterr().err

    recipients = tmp_path / "recipients.txt"
    recipients.write_text("".join(f"grant-{i:03d}\n" for i in range(100)))
    copy_dir = tmp_path / "copy"
    assert (
        main(
            [
                "watermark",
                "embed",
                str(llama_family.base),
                "--key",
                str(master),
                "--recipient",
                "grant-007",
                "-o",
                str(copy_dir),
            ]
        )
        == 0
    )
    capsys.readouterr()
    args = [
        "--model-dir",
        str(llama_family.base),
        "--key",
        str(master),
        "--recipients",
        str(recipients),
    ]
    assert main(["watermark", "trace", str(copy_dir), "--derivative", *args]) == 1
    assert "copy of: grant-007" in capsys.readouterr().out
    recipients.write_text("a\na\n")
    assert main(["watermark", "trace", str(copy_dir), "--derivative", *args]) == 2
    assert "distinct grant ids" in capsys.readouterr().err
