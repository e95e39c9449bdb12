"""The distillation mark on the tiny Llama: green lists, embed through the CLI, detection,
the null p-values on unmarked text, and the CLI's errors.

Bounded: one short distillation (the CLI's ``embed --scheme distill`` with fewer steps
than the default) shared by the module; ``make watermark-durability`` has the full table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from weightwatch.cli import main
from weightwatch.errors import UsageError
from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.kgw import KGW
from weightwatch.watermark.weightio import read_record

MASTER = MasterSecret(bytes(range(32)))
#: a short distillation: enough for 200-token texts to be found, a fraction of the default
TRAIN = ["steps=120", "lr=0.003", "texts=128", "seq_len=96", "batch=16"]


def _scheme(**params: Any) -> DistillMark:
    scheme = get_weight_scheme("distill", **params)
    assert isinstance(scheme, DistillMark)
    return scheme


@pytest.mark.parametrize("width", [1, 2])
def test_training_green_lists_are_the_detectors(width: int) -> None:
    """The teacher's bias lands on exactly the tokens the KGW test counts as green."""
    torch = pytest.importorskip("torch")
    from weightwatch.watermark.distill_train import _green

    scheme = _scheme(context_width=width)
    key = MASTER.derive("release", scheme="distill")
    rng = np.random.default_rng(width)
    ids = rng.integers(0, 64, size=(3, 12))
    mask = _green(scheme, key, torch.from_numpy(ids), 64).numpy()
    kgw, kgw_key = scheme.kgw(), scheme.kgw_key(key)
    for b in range(ids.shape[0]):
        for t in range(width - 1, ids.shape[1] - 1):
            # the token after position t is green iff the detector scores it 1
            for v in (0, 7, 33, 63):
                pair = np.concatenate([ids[b, t - width + 1 : t + 1], [v]])
                assert mask[b, t, v] == kgw.score(pair, kgw_key).values[0]
    assert 0.15 < mask.mean() < 0.35  # gamma = 0.25


@pytest.mark.parametrize(("width", "budget"), [(1, 1 << 20), (2, 1 << 20), (1, 40)])
def test_kept_green_lists_are_the_fresh_ones(width: int, budget: int) -> None:
    """Training keeps each context's green list between batches, within a byte budget
    (40 bytes hold 3 packed rows of a 100-token vocabulary); every batch's mask is still
    exactly the one computed afresh."""
    torch = pytest.importorskip("torch")
    from weightwatch.watermark.distill_train import GreenLists, _green

    scheme = _scheme(context_width=width)
    key = MASTER.derive("release", scheme="distill")
    greens = GreenLists(scheme, key, 100, budget=budget)
    rng = np.random.default_rng(7)
    seen: set[bytes] = set()
    for _ in range(3):  # later batches reuse the earlier batches' contexts
        ids = rng.integers(0, 20, size=(4, 9))
        padded = np.concatenate([np.zeros((4, width - 1), dtype=ids.dtype), ids], axis=1)
        seen |= {padded[b, t : t + width].tobytes() for b in range(4) for t in range(9)}
        mask = greens.mask(torch.from_numpy(ids))
        assert torch.equal(mask, _green(scheme, key, torch.from_numpy(ids), 100))
    assert greens.kept == min(len(seen), budget // 13)


def test_keys_are_not_shared_with_sampling_time_kgw() -> None:
    scheme = _scheme()
    with pytest.raises(UsageError, match="derived for scheme"):
        scheme.kgw_key(MASTER.derive("release", scheme="kgw"))
    key = MASTER.derive("release", scheme="distill")
    assert scheme.kgw_key(key).key_id == key.key_id
    assert isinstance(scheme.kgw(), KGW) and scheme.kgw().params.gamma == scheme.params.gamma


@pytest.fixture(scope="module")
def distilled(llama_family: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny base distilled once, through the CLI (``embed --scheme distill``)."""
    import torch

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("distill")
    master = tmp / "master.json"
    MASTER.save(master)
    out = tmp / "marked"
    args = ["watermark", "embed", str(llama_family.base), "--key", str(master), "-o", str(out)]
    params = [x for p in TRAIN for x in ("--param", p)]
    assert main([*args, "--scheme", "distill", *params]) == 0
    model, tok = load_model(out)
    return {"dir": out, "master": master, "model": model, "tok": tok}


@pytest.mark.slow
def test_embed_trains_every_tensor_and_keeps_the_layout(
    llama_family: Any, distilled: dict[str, Any]
) -> None:
    from safetensors.numpy import load_file

    before = load_file(str(llama_family.base / "model.safetensors"))
    after = load_file(str(distilled["dir"] / "model.safetensors"))
    assert sorted(before) == sorted(after)
    assert all(before[n].dtype == after[n].dtype for n in before)
    record = read_record(distilled["dir"])
    assert record is not None and record.scheme == "distill"
    assert record.key_id == MASTER.derive("default", scheme="distill").key_id
    assert record.params["steps"] == 120 and record.params["lr"] == 0.003
    changed = {n for n in before if not np.array_equal(before[n], after[n])}
    assert changed == {t.name for t in record.tensors}
    assert "lm_head.weight" in changed and len(changed) >= len(before) - 2  # norms may stay


@pytest.mark.slow
def test_detects_the_distilled_models_text_not_the_originals(
    llama_family: Any, distilled: dict[str, Any]
) -> None:
    scheme = _scheme()
    key = MASTER.derive("default", scheme="distill")
    marked = [detect_distilled(t, scheme, key) for t in ev.sample(distilled["model"], 20, seed=3)]
    assert np.mean([r.verdict == "watermarked" for r in marked]) >= 0.8
    assert marked[0].scheme == "distill" and marked[0].n_tokens == 200
    base, _ = load_model(llama_family.base)
    plain = [detect_distilled(t, scheme, key) for t in ev.sample(base, 20, seed=3)]
    assert not any(r.verdict == "watermarked" for r in plain)


@pytest.mark.slow
def test_null_p_values_are_valid_on_unmarked_text(distilled: dict[str, Any]) -> None:
    """Human text, and the distilled model's own text under keys it was not trained with:
    the exact binomial p-value is never anti-conservative (up to sampling error)."""
    scheme = _scheme()
    human = ev.human_texts(distilled["tok"], 100)
    own = ev.sample(distilled["model"], 60, seed=11)
    for texts in (human, own):
        keys = [MASTER.derive(f"null-{i}", scheme="distill") for i in range(len(texts))]
        p = np.asarray(
            [detect_distilled(t, scheme, k).p_value for t, k in zip(texts, keys, strict=True)]
        )
        for a in (0.01, 0.05, 0.2, 0.5):
            # P(p <= a) <= a under the null; 3 standard errors of slack for n texts
            assert np.mean(p <= a) <= a + 3 * np.sqrt(a * (1 - a) / p.size)
        assert p.mean() > 0.4  # uniform: 0.5; a discrete exact tail sits at or above it


@pytest.mark.slow
def test_cli_detect(
    llama_family: Any, distilled: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    master, out = str(distilled["master"]), str(distilled["dir"])
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(ev.sample(distilled["model"], 1, tokens=400, seed=5)[0].tolist()))
    det = ["watermark", "detect", str(ids), "--key", master]
    capsys.readouterr()
    assert main([*det, "--model-dir", out, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "watermarked" and doc["scheme"] == "distill"
    assert doc["key_id"] == MASTER.derive("default", scheme="distill").key_id
    # text, tokenized with the folder's tokenizer
    text = tmp_path / "gen.txt"
    text.write_text(distilled["tok"].decode(json.loads(ids.read_text())))
    assert main(["watermark", "detect", str(text), "--model-dir", out, "--key", master]) == 1
    assert "watermarked" in capsys.readouterr().out
    # another deployment's key: not watermarked
    assert main([*det, "--model-dir", out, "--deployment", "other"]) == 0
    # the original folder with --scheme distill: the same test, default parameters
    base = str(llama_family.base)
    assert main([*det, "--model-dir", base, "--scheme", "distill"]) == 1
    capsys.readouterr()
    assert main([*det, "--model-dir", out, "--scheme", "gaussmark"]) == 2
    assert "marked with 'distill'" in capsys.readouterr().err
    assert (
        main(["watermark", "detect", out, "--model-dir", out, "--key", master, "--derivative"]) == 2
    )
    assert "not the distillation mark" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([1, 2, -5]))
    assert main(["watermark", "detect", str(bad), "--model-dir", out, "--key", master]) == 2
    assert "Traceback" not in capsys.readouterr().err
