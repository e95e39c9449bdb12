"""The index as a cache of rows held elsewhere: incremental, idempotent catch-up."""

from __future__ import annotations

import numpy as np

from weightwatch.fingerprint.model import INDEX_DIM
from weightwatch.lineage.index import FingerprintIndex, Row


def _rows(n: int, start: int = 0) -> list[Row]:
    rng = np.random.default_rng(start)
    v = rng.standard_normal((n, INDEX_DIM)).astype(np.float32)
    return [(start + i + 1, str(1000 + start + i), v[i], 4) for i in range(n)]


def test_catch_up_adds_each_row_once_in_batches(tmp_path):
    table = _rows(25)
    calls: list[int] = []

    def fetch(after: int) -> list[Row]:
        calls.append(after)
        return [r for r in table if r[0] > after][:10]

    idx = FingerprintIndex(tmp_path / "i", create=True)
    assert idx.catch_up(fetch) == 25
    assert len(idx) == 25 and idx.seq == 25
    assert calls == [0, 10, 20, 25]  # batches until one comes back empty, the first once
    assert idx.catch_up(fetch) == 0  # nothing new: one look, no lock, no write
    table += _rows(3, start=25)
    assert idx.catch_up(fetch) == 3 and idx.seq == 28
    # another process's view of the same folder sees the same entries
    again = FingerprintIndex(tmp_path / "i")
    assert len(again) == 28 and again.catch_up(fetch) == 0
    # a crash after the entries were written but before the sequence number: no duplicates
    (tmp_path / "i" / "seq").write_text("20")
    assert FingerprintIndex(tmp_path / "i").catch_up(fetch) == 0
    assert len(FingerprintIndex(tmp_path / "i")) == 28


def test_a_missing_fingerprint_file_comes_from_the_loader(tmp_path, llama_family):
    from weightwatch.fingerprint import fingerprint

    fp = fingerprint(llama_family.base)
    rows = [(1, "7", fp.index_vector(), fp.n_layers)]
    asked: list[str] = []

    def loader(name: str):  # type: ignore[no-untyped-def]
        asked.append(name)
        return fp

    idx = FingerprintIndex(tmp_path / "i", create=True, loader=loader)
    idx.catch_up(lambda after: [r for r in rows if r[0] > after])
    [m] = idx.search(fp, top=1)
    assert m.name == "7" and asked == ["7"] and m.comparison.relation == "identical"
