"""How far an archive or compressed stream may be unpacked: one set of bomb limits.

The artifact layer (``unwrap``, which opens weights wrapped in gzip, zip, tar, 7z or split
into parts) and the scanner (``scan.containers``) use the same ``UnpackLimits``, so a
wrapper the reader refuses as a bomb is one the scanner reports as a bomb.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_INFLATE = 2 * 1024**3  # bytes any one decompressed or extracted member may reach
MAX_RATIO = 200  # compression ratio beyond which a member (over 1 MiB) is a bomb
MAX_DEPTH = 4  # containers within containers
RATIO_FLOOR = 1 << 20  # below this many output bytes the ratio is not judged


@dataclass(frozen=True)
class UnpackLimits:
    """Caps on unpacking one artifact; each is "at most", checked while bytes stream."""

    member: int = MAX_INFLATE  # bytes one decompressed stream or archive member may reach
    total: int = 4 * MAX_INFLATE  # bytes all unpacked files of one artifact may reach
    ratio: int = MAX_RATIO  # output / input bytes, judged once output passes RATIO_FLOOR
    depth: int = MAX_DEPTH  # wrappers within wrappers
    members: int = 10_000  # files one archive may hold


LIMITS = UnpackLimits()
