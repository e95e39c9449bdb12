"""What a fingerprint costs: each weight read once, anchors found without a full vocabulary
walk, and the same values as the straightforward route (issue #18's speed work)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from weightwatch.artifacts import open_artifact
from weightwatch.fingerprint import fingerprint
from weightwatch.fingerprint import layout as layout_mod
from weightwatch.fingerprint import units as units_mod
from weightwatch.fingerprint.layout import layout_of
from weightwatch.fingerprint.units import mlp_units
from weightwatch.fingerprint.vocab import ANCHORS, anchor_ids, token_bytes, vocab_style


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count every row-block read of a weight matrix, by tensor name."""
    reads: Counter[str] = Counter()
    real = layout_mod.row_chunks

    def counted(t: Any) -> Iterator[tuple[int, Any]]:
        reads[t.name] += 1
        yield from real(t)

    monkeypatch.setattr(layout_mod, "row_chunks", counted)
    monkeypatch.setattr(units_mod, "row_chunks", counted)
    return reads


@pytest.mark.parametrize("family", ["llama_family", "gpt2_family"])
def test_each_weight_matrix_is_read_once(family: str, request, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The MLP units come from the layer pass's own read: before, every unit layer's
    gate/up/down matrices were dequantized a second time."""
    fam = request.getfixturevalue(family)
    reads = _counting(monkeypatch)
    fp = fingerprint(fam.base)
    assert fp.units is not None and fp.unit_layers
    assert reads, "no weight read through row_chunks"
    twice = {name: n for name, n in reads.items() if n > 1}
    assert not twice, twice


@pytest.mark.parametrize("family", ["llama_family", "gpt2_family"])
def test_units_from_the_layer_pass_equal_the_standalone_route(family: str, request) -> None:  # type: ignore[no-untyped-def]
    fam = request.getfixturevalue(family)
    fp = fingerprint(fam.base)
    alone = mlp_units(layout_of(open_artifact(fam.base)))
    assert alone is not None and fp.units is not None
    assert list(fp.unit_layers) == alone[0]
    assert np.array_equal(fp.units, alone[1].astype(np.float16).astype(np.float32))


def _reference_anchor_ids(vocab: dict[str, int], n_rows: int) -> dict[bytes, int]:
    """The full walk the fast path replaced: every token decoded, first id wins."""
    style, found = vocab_style(vocab), {}
    for token, idx in sorted(vocab.items(), key=lambda kv: kv[1]):
        b = token_bytes(token, style)
        if 0 <= idx < n_rows and b in set(ANCHORS) and b not in found:
            found[b] = idx
    return found


@pytest.mark.parametrize("space", ["\u2581", "\u0120"])
def test_anchor_lookup_matches_the_full_walk(space: str) -> None:
    rng = np.random.default_rng(5)
    vocab: dict[str, int] = {}
    tokens = [chr(c) for c in range(0x21, 0x7F)] + [space, "<s>", "</s>", "<unk>"]
    tokens += [f"<0x{b:02X}>" for b in range(256)]  # byte pieces, some duplicating chars
    tokens += [space + "the", "ab", "<0x4", "<0x41", "<0x41>>", "\u00e9", space * 2]
    tokens += ["".join(rng.choice(list("abcdefgh"), 4)) + str(i) for i in range(3000)]
    order = rng.permutation(len(tokens))
    for i, j in enumerate(order):
        vocab[tokens[j]] = int(i)
    for n_rows in (len(vocab), 300):  # ids past the embedding's rows are skipped
        assert anchor_ids(vocab, n_rows) == _reference_anchor_ids(vocab, n_rows)
