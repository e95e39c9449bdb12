"""Zip files that Python's zipfile and other loaders would read differently are findings,
and a member Python refuses is still analysed the way a lenient loader would read it."""

from __future__ import annotations

import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightwatch.errors import ScanError
from weightwatch.scan import Verdict, scan_paths
from weightwatch.testing.pickle_bytes import SYSTEM, torch_zip


def _scan(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return scan_paths([p]).files[0]


def _rules(report):
    return {f.rule_id for f in report.findings}


def test_clean_torch_zip_has_no_differential(tmp_path):
    assert _rules(_scan(tmp_path, "ok.pt", torch_zip(b"\x80\x02}q\x00."))) == set()


def test_flag_bit_differs(tmp_path):
    raw = bytearray(torch_zip(SYSTEM))
    raw[raw.find(b"PK\x03\x04") + 6] |= 0x01  # "encrypted" in the local header only
    report = _scan(tmp_path, "flag.pt", bytes(raw))
    assert {"WW-ARCHIVE-001", "WW-PICKLE-001"} <= _rules(report)


def test_crc_mismatch_is_reported_and_still_analysed(tmp_path):
    raw = bytearray(torch_zip(SYSTEM))
    central = raw.find(b"PK\x01\x02")
    crc_at = central + 16
    raw[crc_at : crc_at + 4] = (zlib.crc32(b"other") & 0xFFFFFFFF).to_bytes(4, "little")
    local = raw.find(b"PK\x03\x04")
    raw[local + 14 : local + 18] = raw[crc_at : crc_at + 4]
    report = _scan(tmp_path, "crc.pt", bytes(raw))
    assert "WW-ARCHIVE-001" in _rules(report)
    assert "WW-PICKLE-001" in _rules(report)  # Python refuses the member; we read it anyway
    assert report.verdict is Verdict.MALICIOUS


def test_data_after_end_record(tmp_path):
    report = _scan(tmp_path, "tail.pt", torch_zip(b"\x80\x02}q\x00.") + b"\x80\x02N." * 4)
    assert "WW-ARCHIVE-001" in _rules(report)


def test_local_name_differs(tmp_path):
    raw = bytearray(torch_zip(b"\x80\x02}q\x00."))
    i = raw.find(b"archive/data.pkl")  # first occurrence: the local header
    raw[i : i + 16] = b"archive/data.pkX"
    report = _scan(tmp_path, "name.pt", bytes(raw))
    assert "WW-ARCHIVE-001" in _rules(report)


_ARCHIVES: list[bytes] = []


def _archives() -> list[bytes]:
    if not _ARCHIVES:
        import gzip
        import io
        import tarfile

        from weightwatch.testing.scan_corpus import _keras_lambda

        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as tf:
            info = tarfile.TarInfo("a/b.pkl")
            info.size = len(SYSTEM)
            tf.addfile(info, io.BytesIO(SYSTEM))
        _ARCHIVES.extend(
            [
                torch_zip(SYSTEM),
                torch_zip(b"\x80\x02}q\x00."),
                tar.getvalue(),
                gzip.compress(SYSTEM),
                _keras_lambda(),
            ]
        )
    return _ARCHIVES


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_archives_never_crash(tmp_path, data):
    blob = bytearray(data.draw(st.sampled_from(_archives())))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "set"]))
        if op == "flip":
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del blob[max(i, 1) :]
        else:
            blob[i] = data.draw(st.integers(0, 255))
    p = tmp_path / "fuzzed.bin"
    p.write_bytes(bytes(blob))
    try:
        report = scan_paths([p]).files[0]  # unreadable is an error verdict...
    except ScanError as exc:  # ...or, for bytes that are no format at all, a clear error (#14)
        assert "fuzzed.bin" in str(exc) and "\n" not in str(exc)
        return
    if report.error is not None:
        assert report.verdict in (Verdict.ERROR, Verdict.MALICIOUS)
