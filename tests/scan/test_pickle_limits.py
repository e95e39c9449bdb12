"""The reader and the scanner run pickles under one set of limits: a stream the reader
refuses as too large is one the scanner reports, at the same boundary."""

from __future__ import annotations

import dataclasses
import inspect
import io

import pytest

from weightwatch.artifacts.pickle_limits import LIMITS, PickleLimits
from weightwatch.artifacts.torchrefs import ALLOWED
from weightwatch.artifacts.unpickler import PickleRefused, run
from weightwatch.scan import Location, rules
from weightwatch.scan.pickles import analyze

LOC = Location(file="t.pkl")
ROOMY = PickleLimits(ops=10_000, memo=10_000, stack=10_000, depth=10_000)


def test_both_machines_default_to_the_one_limits_object():
    for machine in (run, analyze):
        assert inspect.signature(machine).parameters["limits"].default is LIMITS


def _stream(limit: str, n: int) -> bytes:
    """A benign pickle that needs exactly ``n`` of ``limit``."""
    if limit == "ops":
        return b"\x80\x02" + b"N0" * ((n - 3) // 2) + b"N."  # PROTO, (NONE POP)*k, NONE, STOP
    if limit == "memo":
        return b"\x80\x04" + b"N\x940" * n + b"N."  # NONE MEMOIZE POP, n times
    if limit == "stack":
        return b"\x80\x02(" + b"N" * n + b"t."  # n values above one MARK, then TUPLE
    return b"\x80\x02" + b"(" * n + b"t" * n + b"."  # n MARKs open at once: nested tuples


def _reader_refuses(data: bytes, limits: PickleLimits) -> bool:
    try:
        run(io.BytesIO(data), allowed=ALLOWED, limits=limits)
    except PickleRefused:
        return True
    return False


def _scanner_stops(data: bytes, limits: PickleLimits) -> bool:
    found = analyze(data, location=LOC, limits=limits).findings
    assert all(f.rule_id == rules.PICKLE_LIMIT.id for f in found), found
    return bool(found)


@pytest.mark.parametrize("limit", ["ops", "memo", "stack", "depth"])
def test_both_machines_stop_at_the_same_boundary(limit):
    limits = dataclasses.replace(ROOMY, **{limit: 21})
    at, past = _stream(limit, 21), _stream(limit, 22 if limit != "ops" else 23)
    assert not _reader_refuses(at, limits) and not _scanner_stops(at, limits)
    assert _reader_refuses(past, limits) and _scanner_stops(past, limits)


def test_default_depth_limit_is_reported_by_the_scanner_too():
    # The scanner had no MARK limit: a stream nested past what the reader runs was analysed
    # to the end. Now it is a limit finding (high), like any stream the reader refuses.
    deep = _stream("depth", LIMITS.depth + 1)
    assert _reader_refuses(deep, LIMITS)
    assert _scanner_stops(deep, LIMITS)
    assert not _scanner_stops(_stream("depth", LIMITS.depth), LIMITS)
