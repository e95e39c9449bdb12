"""``weightwatch diff`` on 61 derivatives of the tiny refusing chat model (issue 22):
abliterated copies (direction from the model's own activations), LoRA merges of rank
1–64, full fine-tunes and int3–int8 copies; a permuted abliterated copy; the CLI."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from weightwatch.cli import main
from weightwatch.forensics import ABLITERATION_THRESHOLD, diff_models, diff_tensors
from weightwatch.testing import derive
from weightwatch.testing.chat import ChatModels
from weightwatch.testing.forensics_zoo import (
    abliterate,
    build_zoo,
    load,
    prompts,
    refusal_direction,
    tensors_of,
)

pytestmark = pytest.mark.slow


def test_diff_classifies_sixty_derivatives(chat_models: ChatModels) -> None:
    model, _ = load(chat_models.base)
    base, config = tensors_of(model), model.config.to_dict()
    confusion: collections.Counter[tuple[str, str]] = collections.Counter()
    null_scores: list[float] = []
    for d in build_zoo(chat_models.base, chat_models.heldout):
        report = diff_tensors(base, d.tensors, config=config)
        confusion[(d.label, report.derivation)] += 1
        if d.label != "abliterated":
            null_scores.append(report.abliteration_score)
    total = sum(confusion.values())
    right = sum(n for (truth, got), n in confusion.items() if truth == got)
    print(f"diff accuracy {right}/{total}: {dict(confusion)}")
    false_calls = sum(
        n
        for (truth, got), n in confusion.items()
        if truth != "abliterated" and got == "abliterated"
    )
    print(
        f"null (unrelated fine-tunes): max score {max(null_scores):.3f}, "
        f"false abliteration calls {false_calls}/{len(null_scores)}"
    )
    assert total >= 60
    assert right / total >= 0.95
    assert max(null_scores) < ABLITERATION_THRESHOLD
    assert false_calls == 0


def test_abliteration_is_found_in_a_permuted_copy_and_by_the_cli(
    chat_models: ChatModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, tokenizer = load(chat_models.base)
    harmful, harmless = prompts(chat_models.heldout)
    direction = refusal_direction(model, tokenizer, harmful[:32], harmless[:32], layer=1)
    abliterated = abliterate(model, direction)
    permuted = derive.permute_hidden(abliterated, seed=11)
    permuted.save_pretrained(tmp_path / "permuted")
    report = diff_models(chat_models.base, tmp_path / "permuted")
    assert report.aligned and report.derivation == "abliterated"
    assert report.alignment_quality is not None and report.alignment_quality > 0.9
    assert report.direction_consistency is not None and report.direction_consistency > 0.99

    # A permuted copy with nothing else done is identical once aligned.
    derive.permute_hidden(model, seed=5).save_pretrained(tmp_path / "just-permuted")
    assert diff_models(chat_models.base, tmp_path / "just-permuted").derivation == "identical"

    code = main(["diff", str(chat_models.base), str(tmp_path / "permuted"), "--json"])
    assert code == 1  # an abliteration signature is a finding
    doc = json.loads(capsys.readouterr().out)
    assert doc["derivation"] == "abliterated" and doc["aligned"] is True
    assert main(["diff", str(chat_models.base), str(chat_models.harmless)]) == 0
    assert main(["diff", str(chat_models.base), str(tmp_path / "missing")]) == 2
