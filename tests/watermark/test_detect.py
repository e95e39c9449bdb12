"""Detector behaviour: deduplication, adjustments, verdicts, reports, input errors."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.watermark.helpers import fresh_key, simulate
from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark import (
    KGW,
    KGWHF,
    Gumbel,
    MasterSecret,
    WatermarkDetection,
    detect,
    detect_text,
    get_scheme,
    registry,
)

NATIVE = [
    ("kgw", {}),
    ("kgw", {"context_width": 3}),
    ("kgw", {"seeding": "selfhash", "context_width": 1}),
    ("gumbel", {}),
    ("gumbel", {"context_width": 2}),
]


def test_registry_finds_every_scheme() -> None:
    assert {"kgw", "kgw-hf", "gumbel"} <= set(registry())
    assert (
        registry()["kgw"] is KGW
        and registry()["gumbel"] is Gumbel
        and registry()["kgw-hf"] is KGWHF
    )
    with pytest.raises(UsageError):
        get_scheme("nope")
    with pytest.raises(UsageError):
        get_scheme("kgw", gamma=1.5)
    with pytest.raises(UsageError):
        get_scheme("kgw", unknown=1)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(0, 6), min_size=0, max_size=80),
    which=st.sampled_from(range(len(NATIVE))),
)
def test_each_context_token_pair_counts_once(ids: list[int], which: int) -> None:
    name, params = NATIVE[which]
    scheme = get_scheme(name, **params)
    key = MasterSecret(bytes(32)).derive("t", scheme=name)
    h = scheme.context_width
    report = detect(ids, scheme=scheme, keys=key, min_scored=1)
    if name == "kgw" and params.get("seeding") == "selfhash":
        # selfhash inputs are (min-hash seed, token): at most the distinct n-grams
        assert report.n_scored <= len({tuple(ids[i - h : i + 1]) for i in range(h, len(ids))})
        return
    grams = {tuple(ids[i - h : i + 1]) for i in range(h, len(ids))}
    assert report.n_scored == len(grams)


def test_repetition_does_not_inflate_the_score() -> None:
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    wm = simulate(
        scheme, key, batch=1, steps=40, vocab=500, scale=1.0, rng=np.random.default_rng(1)
    )[0]
    once = detect(wm, scheme=scheme, keys=key, min_scored=1)
    many = detect(np.tile(wm, 20), scheme=scheme, keys=key, min_scored=1)
    # only the junction pair (last, first) is new
    assert many.n_scored <= once.n_scored + 1
    # one extra (junction) token moves an exact binomial tail by a small factor at most;
    # counting the 20 copies would move it by many orders of magnitude
    assert many.p_value >= once.p_value * 0.05


def test_green_count_is_recomputable_from_green_mask() -> None:
    scheme = get_scheme("kgw", context_width=2)
    assert isinstance(scheme, KGW)
    key = fresh_key("kgw")
    ids = np.random.default_rng(3).integers(0, 50_000, 400)
    report = detect(ids, scheme=scheme, keys=key, min_scored=1)
    seen: set[tuple[int, ...]] = set()
    green = 0
    for t in range(2, len(ids)):
        gram = tuple(int(x) for x in ids[t - 2 : t + 1])
        if gram in seen:
            continue
        seen.add(gram)
        green += bool(scheme.green_mask(ids[None, t - 2 : t], ids[None, t : t + 1], key)[0, 0])
    assert report.score == green and report.n_scored == len(seen)


def test_vocabulary_size_does_not_matter_to_scores() -> None:
    # the same ids score the same whatever vocabulary they come from: no vocab-sized state
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    ids = np.random.default_rng(0).integers(0, 1000, 500)
    a = scheme.score(ids, key)
    b = scheme.score(ids.astype(np.int32), key)
    assert np.array_equal(a.values, b.values)
    big = scheme.score(ids + 10**9, key)
    assert big.values.shape == a.values.shape


def test_too_short_and_verdicts() -> None:
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    short = detect([1, 2, 3, 4, 5], scheme=scheme, keys=key)
    assert short.verdict == "too_short" and short.n_scored == 4
    empty = detect([], scheme=scheme, keys=key)
    assert empty.verdict == "too_short" and empty.n_scored == 0 and empty.p_value == 1.0
    wm = simulate(
        scheme, key, batch=1, steps=200, vocab=1000, scale=1.0, rng=np.random.default_rng(2)
    )[0]
    hit = detect(wm, scheme=scheme, keys=key)
    assert hit.verdict == "watermarked" and hit.p_value < 1e-10 and hit.z > 5
    miss = detect(wm, scheme=scheme, keys=fresh_key("kgw"))
    assert miss.verdict == "not_watermarked"


def test_key_adjustments() -> None:
    scheme = get_scheme("kgw")
    right = fresh_key("kgw")
    wrong = [fresh_key("kgw") for _ in range(9)]
    wm = simulate(
        scheme, right, batch=1, steps=60, vocab=1000, scale=1.0, rng=np.random.default_rng(4)
    )[0]
    single = detect(wm, scheme=scheme, keys=right)
    bonf = detect(wm, scheme=scheme, keys=[*wrong, right])
    sidak = detect(wm, scheme=scheme, keys=[*wrong, right], correction="sidak")
    assert bonf.key_id == right.key_id and bonf.keys_tested == 10
    assert math.isclose(bonf.p_value, min(1.0, 10 * single.p_value), rel_tol=1e-12)
    assert math.isclose(bonf.log10_p_value, single.log10_p_value + 1, rel_tol=1e-9)
    expected_sidak = 1 - (1 - Fraction(single.p_value)) ** 10
    assert math.isclose(sidak.p_value, float(expected_sidak), rel_tol=1e-12)
    assert sidak.p_value <= bonf.p_value
    assert bonf.p_value_unadjusted == single.p_value


def test_report_json_round_trip() -> None:
    scheme, key = get_scheme("gumbel"), fresh_key("gumbel")
    ids = np.random.default_rng(0).integers(0, 1000, 600)
    report = detect(ids, scheme=scheme, keys=key, windows=(64, 128))
    text = report.model_dump_json()
    again = WatermarkDetection.model_validate_json(text)
    assert again == report
    assert report.schema_version == "1" and report.scheme == "gumbel"
    assert report.params == {"name": "gumbel", "context_width": 1, "temperature": 1.0}
    assert report.windows_tested > 0 and report.tests == report.windows_tested + 1
    with pytest.raises(ValidationError):  # frozen
        report.p_value = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [[[1, 2], [3, 4]], [1.5, 2.0], [-1, 2, 3], "abc"],
)
def test_bad_token_ids_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError):
        detect(bad, scheme=get_scheme("kgw"), keys=fresh_key("kgw"))  # type: ignore[arg-type]


def test_bad_options_are_usage_errors() -> None:
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    for kwargs in (
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"min_scored": 0},
        {"windows": ()},
        {"windows": (0,)},
    ):
        with pytest.raises(UsageError):
            detect([1, 2, 3], scheme=scheme, keys=key, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        detect([1, 2, 3], scheme=scheme, keys=[])


def test_detect_text_with_a_tokenizer_folder(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = [f"the quick brown fox {i} jumps over the lazy dog number {i * 7}" for i in range(300)]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    scheme, key = get_scheme("kgw"), fresh_key("kgw")
    wm = simulate(
        scheme,
        key,
        batch=1,
        steps=200,
        vocab=tok.get_vocab_size(),
        scale=1.0,
        rng=np.random.default_rng(5),
    )[0]
    text = tok.decode(wm.tolist())
    report = detect_text(text, tmp_path, scheme=scheme, keys=key)
    direct = detect(wm, scheme=scheme, keys=key)
    # the round trip may re-segment the text; the evidence survives but may shrink
    assert report.verdict == "watermarked"
    assert report.log10_p_value >= direct.log10_p_value - 5
    with pytest.raises(ArtifactError):
        detect_text("x", tmp_path / "missing", scheme=scheme, keys=key)
