"""#14: the scanner opens lz4 frames like the other compressors, and refuses a path that
holds nothing it can read instead of calling it clean."""

from __future__ import annotations

import pytest

from weightwatch.errors import ScanError
from weightwatch.scan import Verdict, scan_paths
from weightwatch.testing.pickle_bytes import SYSTEM


def test_pickle_inside_lz4_is_found(tmp_path):
    lz4_frame = pytest.importorskip("lz4.frame")
    p = tmp_path / "model.pkl.lz4"
    p.write_bytes(lz4_frame.compress(SYSTEM))
    report = scan_paths([p]).files[0]
    assert report.format == "lz4"
    assert report.verdict is Verdict.MALICIOUS


def test_nothing_readable_is_an_error_not_clean(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScanError, match="empty folder"):
        scan_paths([tmp_path / "empty"])
    d = tmp_path / "noise"
    d.mkdir()
    (d / "pytorch_model.bin").write_bytes(bytes(range(256)) * 20)
    (d / "README.md").write_text("# a model\n")
    with pytest.raises(ScanError, match=r"pytorch_model\.bin: holds unknown content"):
        scan_paths([d])
    # text beside the noise does not make the promised weights seen
    (d / "notes.txt").write_text("hello\n")
    with pytest.raises(ScanError):
        scan_paths([d])
