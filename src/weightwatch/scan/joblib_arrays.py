"""joblib's in-stream NumPy arrays: where their bytes lie, read from the pickle alone.

``joblib.dump`` pickles a ``NumpyArrayWrapper`` in place of each array and writes the
array right after that object's ``BUILD`` opcode, inside the pickle stream: for plain
dtypes a padding-length byte, that many ``0xff`` bytes (joblib >= 1.2 aligns to 16) and
the raw data; for object dtypes a whole protocol-5 pickle that ``joblib.load`` runs with
a fresh unpickler. ``joblib.numpy_pickle.NumpyUnpickler.load_build`` reads it there. A
scanner that treats the file as one plain pickle stumbles on the array bytes (and calls
every joblib file broken); one that stops there misses what follows.

This module is pure: from the wrapper's symbolic state (what the opcode machine in
``scan.pickles`` tracked) it works out the layout, or says why it cannot. The same
layout is what joblib 1.6's ``NumpyArrayWrapper.read_array`` reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

#: The classes whose BUILD makes joblib read array bytes from the stream.
WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper"})
_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z])(\d*)")
_NPY_ITEM_HASOBJECT = 0x01
MAX_ALIGNMENT = 64  # joblib writes 16; a larger value is not from joblib


@dataclass(frozen=True)
class ArrayLayout:
    """What follows a wrapper's BUILD: ``nbytes`` of data after an alignment byte (when
    ``aligned``), or a nested pickle (``has_object``)."""

    nbytes: int
    has_object: bool
    aligned: bool


def layout(
    state: dict[str, Any], dtype_args: tuple[Any, ...] | None, dtype_state: Any
) -> ArrayLayout | str:
    """The layout for a wrapper whose BUILD state is ``state`` (constants only) and whose
    dtype was rebuilt as ``numpy.dtype(*dtype_args)`` with ``dtype_state``; else why not."""
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        return f"array shape {shape!r} is not a tuple of sizes"
    if not dtype_args or not isinstance(dtype_args[0], str):
        return "array dtype is not a numpy.dtype built from a type string"
    match = _TYPESTR.match(dtype_args[0])
    if match is None:
        return f"array dtype {dtype_args[0]!r} is not a NumPy type string"
    flags = 0
    elsize = -1
    if isinstance(dtype_state, tuple) and len(dtype_state) >= 8:
        elsize = dtype_state[5] if isinstance(dtype_state[5], int) else -1
        flags = dtype_state[7] if isinstance(dtype_state[7], int) else 0
    has_object = match.group(1) == "O" or bool(flags & _NPY_ITEM_HASOBJECT)
    itemsize = elsize if elsize > 0 else int(match.group(2) or 0)
    if not has_object and itemsize <= 0:
        return f"array dtype {dtype_args[0]!r} has no item size"
    alignment = state.get("numpy_array_alignment_bytes")
    aligned = alignment is not None
    if aligned and (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or not 0 < alignment <= MAX_ALIGNMENT
    ):
        return f"array alignment {alignment!r} is not one joblib writes"
    count = math.prod(shape)  # 1 for a 0-d array
    return ArrayLayout(
        nbytes=0 if has_object else count * itemsize,
        has_object=has_object,
        aligned=aligned,
    )
