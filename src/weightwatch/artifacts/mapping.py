"""Memory-map one byte range of a file as a read-only NumPy array.

Each tensor gets its own small mapping that is released when the last view of it is
dropped, so iterating a 400 GB checkpoint keeps only the tensor in hand resident —
mapping the whole file once would let the kernel count every page touched so far.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError


def map_range(path: str | Path, offset: int, length: int) -> npt.NDArray[np.uint8]:
    """Bytes ``[offset, offset+length)`` of ``path`` as a read-only uint8 array."""
    if length == 0:
        empty = np.empty(0, dtype=np.uint8)
        empty.flags.writeable = False
        return empty
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        with open(path, "rb") as f:
            mm = mmap.mmap(
                f.fileno(), length + (offset - start), offset=start, access=mmap.ACCESS_READ
            )
    except (OSError, ValueError) as exc:
        raise ArtifactError(path, f"cannot map bytes {offset}..{offset + length}: {exc}") from exc
    return np.frombuffer(mm, dtype=np.uint8, count=length, offset=offset - start)
