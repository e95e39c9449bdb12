"""The one pickle callable table: the reader's allowlist is exactly its loadable part."""

from __future__ import annotations

import io
import pickletools
import zipfile

import pytest
import torch

from weightwatch.artifacts.model import DTYPES
from weightwatch.artifacts.pickle_callables import PICKLE_CALLABLES, Resolution
from weightwatch.artifacts.torchrefs import ALLOWED
from weightwatch.artifacts.unpickler import PickleRefused, run

MARKERS = (Resolution.STORAGE_TYPE, Resolution.DTYPE)


def test_each_name_is_listed_once():
    names = [c.name for c in PICKLE_CALLABLES]
    assert len(names) == len(set(names))


def test_reader_allowlist_is_exactly_the_loadable_entries():
    assert set(ALLOWED) == {c.name for c in PICKLE_CALLABLES if c.loadable}
    assert all(ALLOWED[name].name == name for name in ALLOWED)


def test_markers_carry_a_dtype_the_reader_knows_and_nothing_else_does():
    for c in PICKLE_CALLABLES:
        if c.reader in MARKERS:
            assert c.dtype in DTYPES, c
        else:
            assert c.dtype is None, c


def test_markers_and_tensor_types_are_never_called():
    for c in PICKLE_CALLABLES:
        target = ALLOWED[c.name].target if c.loadable else None
        if c.reader is Resolution.TENSOR_TYPE:
            assert target is None
        elif c.reader in MARKERS:
            assert target is not None
            with pytest.raises(PickleRefused, match="was called"):
                target()


@pytest.mark.parametrize("name", sorted(c.name for c in PICKLE_CALLABLES if not c.loadable))
def test_scanner_safe_only_entries_are_refused_by_the_reader(name):
    module, _, qual = name.rpartition(".")
    data = b"\x80\x02c" + f"{module}\n{qual}\n".encode() + b")R."  # call it with no arguments
    with pytest.raises(PickleRefused, match="refused callable"):
        run(io.BytesIO(data), allowed=ALLOWED)


def test_the_table_covers_what_torch_save_writes(tmp_path):
    """Every global a torch.save state dict of each listed dtype names is loadable."""
    dtypes = [
        getattr(torch, c.name.removeprefix("torch."))
        for c in PICKLE_CALLABLES
        if c.reader is Resolution.DTYPE
    ]
    obj = {str(dt): torch.zeros(2, dtype=dt) for dt in dtypes}
    obj["param"] = torch.nn.Parameter(torch.ones(1))
    torch.save(obj, tmp_path / "all.pt")
    with zipfile.ZipFile(tmp_path / "all.pt") as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))
    named = {
        str(a).replace(" ", ".") for op, a, _ in pickletools.genops(data) if op.name == "GLOBAL"
    }
    assert named <= set(ALLOWED), named - set(ALLOWED)
