"""C2SP ``tlog-tiles``: the log's Merkle tree as static, cacheable tiles (pure functions).

A tile at level ``L`` holds up to 256 consecutive hashes of Merkle level ``8·L`` (level 0:
leaf hashes); tile ``N`` covers leaves ``N·256^(L+1)`` to ``(N+1)·256^(L+1)``. Partial tiles
(``.p/<W>``) hold the first ``W`` hashes of the rightmost tile. Entry bundles
(``tile/entries/<N>``) hold the leaves of level-0 tile ``N``, each prefixed by its length
as a big-endian u16. :class:`TiledTree` answers RFC 6962 roots and proofs from tiles, so a
client needs only tiles and a checkpoint, never a proof endpoint it must trust.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from weightwatch.errors import UsageError, VerificationError
from weightwatch.merkle import TreeView, node_hash, sha256

HEIGHT = 8
WIDTH = 1 << HEIGHT  # hashes in a full tile
HASH = 32
MAX_LEVEL = 63
MAX_ENTRY = 0xFFFF  # an entry bundle's u16 length prefix
_ELEMENT = re.compile(r"^(x\d{3}/)*\d{3}\Z")


@dataclass(frozen=True)
class Tile:
    """One tile (``level`` is ``None`` for an entry bundle); ``width`` 256 is a full tile."""

    level: int | None
    index: int
    width: int = WIDTH

    @property
    def path(self) -> str:
        kind = "entries" if self.level is None else str(self.level)
        suffix = "" if self.width == WIDTH else f".p/{self.width}"
        return f"tile/{kind}/{encode_index(self.index)}{suffix}"

    @property
    def merkle_level(self) -> int:
        return 0 if self.level is None else HEIGHT * self.level

    def end_leaf(self) -> int:
        """One past the last leaf this tile's ``width`` hashes cover."""
        return (self.index * WIDTH + self.width) << self.merkle_level


def encode_index(n: int) -> str:
    """Tile index as zero-padded 3-digit path elements, all but the last prefixed ``x``."""
    if n < 0:
        raise UsageError(f"tile index {n} is negative")
    parts = []
    while True:
        n, rest = divmod(n, 1000)
        parts.append(f"{rest:03d}")
        if n == 0:
            break
    parts.reverse()
    return "/".join([*("x" + p for p in parts[:-1]), parts[-1]])


def parse_tile_path(path: str) -> Tile:
    """The tile a request path (after ``tile/``) names; ``UsageError`` if it is malformed."""
    kind, sep, rest = path.partition("/")
    if not sep:
        raise UsageError(f"{path!r} is not a tile path")
    if kind == "entries":
        level = None
    elif kind.isdigit() and (kind == "0" or not kind.startswith("0")) and int(kind) <= MAX_LEVEL:
        level = int(kind)
    else:
        raise UsageError(f"{kind!r} is not a tile level (0–{MAX_LEVEL} or 'entries')")
    width = WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < WIDTH:
            raise UsageError(f"partial tile width {w!r} is not 1–255")
        width = int(w)
    if not _ELEMENT.match(rest) or len(rest) > 40:
        raise UsageError(f"{rest!r} is not a tile index (x001/x234/067 form)")
    index = int(rest.replace("x", "").replace("/", ""))
    if encode_index(index) != rest:  # e.g. a leading '000' element
        raise UsageError(f"{rest!r} is not the canonical encoding of tile {index}")
    return Tile(level, index, width)


def tile_for(merkle_level: int, index: int, size: int) -> Tile:
    """The tile (as wide as ``size`` allows) that holds hash ``index`` of Merkle level
    ``merkle_level`` when that level is a multiple of 8."""
    level = merkle_level // HEIGHT
    n = index // WIDTH
    complete = size >> merkle_level  # hashes of that level in a tree of `size`
    width = min(WIDTH, complete - n * WIDTH)
    if width <= 0:
        raise VerificationError(f"a tree of {size} leaves has no hash {index} at {merkle_level}")
    return Tile(level, n, width)


def tile_hashes(data: bytes, tile: Tile) -> list[bytes]:
    if len(data) != tile.width * HASH:
        raise VerificationError(
            f"{tile.path}: {len(data)} bytes, expected {tile.width * HASH} ({tile.width} hashes)"
        )
    return [data[i : i + HASH] for i in range(0, len(data), HASH)]


def bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY:
            raise UsageError(f"a log entry of {len(e)} bytes does not fit an entry bundle")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise VerificationError("entry bundle ends inside a length prefix")
        n = int.from_bytes(data[i : i + 2], "big")
        if i + 2 + n > len(data):
            raise VerificationError("entry bundle ends inside an entry")
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


class _Needs(TreeView):
    def __init__(self, size: int) -> None:
        self.h, self.size, self.tiles = sha256, size, set[Tile]()

    def _node(self, level: int, index: int) -> bytes:
        base = level - level % HEIGHT
        first = index << (level - base)
        self.tiles.add(tile_for(base, first, self.size))
        return b"\x00" * HASH


class TiledTree(TreeView):
    """RFC 6962 roots and proofs over tiles, for a tree of ``size`` leaves.

    ``fetch(tile)`` returns a tile's bytes; :meth:`needed` says which tiles a computation
    will ask for, so a client can fetch them all first (in parallel, from a cache).
    """

    def __init__(self, size: int, fetch: Callable[[Tile], bytes]) -> None:
        self.h, self.size, self._fetch = sha256, size, fetch
        self._cache: dict[Tile, list[bytes]] = {}

    @staticmethod
    def needed(size: int, run: Callable[[TreeView], object]) -> set[Tile]:
        rec = _Needs(size)
        run(rec)
        return rec.tiles

    def _hashes(self, tile: Tile) -> list[bytes]:
        if tile not in self._cache:
            self._cache[tile] = tile_hashes(self._fetch(tile), tile)
        return self._cache[tile]

    def _node(self, level: int, index: int) -> bytes:
        base = level - level % HEIGHT
        span = 1 << (level - base)
        first = index * span
        tile = tile_for(base, first, self.size)
        offset = first - tile.index * WIDTH
        layer = self._hashes(tile)[offset : offset + span]
        while len(layer) > 1:
            layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
        return layer[0]
