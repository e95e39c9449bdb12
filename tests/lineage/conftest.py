"""Evasion variants of the cached Llama family base, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def evasions(llama_family, tmp_path_factory):  # type: ignore[no-untyped-def]
    from transformers import PreTrainedTokenizerFast

    from weightwatch.testing import derive, evasion
    from weightwatch.testing.models import load

    root = tmp_path_factory.mktemp("evasions")
    base = load(llama_family.base)
    tok_dir = llama_family.tokenizer
    PreTrainedTokenizerFast.from_pretrained(tok_dir)  # the tokenizer folder loads as is
    out: dict[str, Path] = {}

    def save(model, name: str, tok: Path = tok_dir) -> None:  # type: ignore[no-untyped-def]
        d = root / name
        model.save_pretrained(d)
        for f in tok.iterdir():
            if f.is_file():
                shutil.copy(f, d / f.name)
        out[name] = d

    save(evasion.rotate_hidden(base, seed=5), "rotated")
    save(evasion.rescale(base, seed=6), "rescaled")
    save(evasion.drop_last_layer(base), "layer_dropped")
    for name, edit in (
        ("vocab_shuffled", evasion.shuffle_vocab),
        ("vocab_trimmed", evasion.trim_vocab),
        ("vocab_extended", evasion.extend_vocab),
    ):
        tdir = root / f"{name}-tok"
        save(edit(base, tok_dir, tdir), name, tdir)
    save(derive.permute_hidden(evasion.rotate_hidden(base, seed=7), seed=8), "rotated_permuted")
    return out
