"""The scanner against files real producers write (``weightwatch.testing.benign_corpus``):
at most 0.5% flagged high/critical, each flagged file explained in docs/scanner.md, and
nothing unreadable. The test suite scans the representative subset (scale 1, ~360 files);
``make scanner-corpus`` builds and scans the full corpus (scale 4, over 1,000 files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import _cache
from weightwatch.testing.benign_corpus import build_benign_corpus, evaluate
from weightwatch.testing.benign_producers import PRODUCERS

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[2] / "docs" / "scanner.md"


@pytest.fixture(scope="module")
def corpus():
    return build_benign_corpus(_cache(), scale=1)


def test_every_producer_ran(corpus):
    assert corpus.skipped == {}, corpus.skipped
    producers = {f.producer for f in corpus.files}
    assert producers == set(PRODUCERS) and len(corpus.files) >= 300
    trainer = {f.name for f in corpus.files if f.producer == "hf-trainer"}
    assert {
        "training_args.bin",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "trainer_state.json",
    } <= trainer
    joblib_files = [f.name for f in corpus.files if f.name.endswith(".joblib")]
    for compression in ("c0", "czlib", "cgzip", "cbz2", "clzma", "cxz", "clz4"):
        assert any(f".{compression}." in n for n in joblib_files), compression


def test_false_positives_at_most_half_a_percent_and_no_errors(corpus):
    result = evaluate(corpus)
    assert result.errors == {}
    assert result.false_positive_rate <= 0.005, result.flagged
    listed = DOC.read_text()
    unexplained = [p for p in result.flagged if Path(p).name not in listed]
    assert unexplained == [], "flagged benign files must be listed in docs/scanner.md"
