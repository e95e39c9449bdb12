"""Tile paths, entry bundles, and proofs computed from tiles equal to the log's own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightwatch.attest.tiles import (
    Tile,
    TiledTree,
    bundle,
    encode_index,
    parse_tile_path,
    unbundle,
)
from weightwatch.errors import UsageError, VerificationError
from weightwatch.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion


def test_index_encoding_of_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000" and encode_index(1000) == "x001/000"
    assert parse_tile_path("2/x001/x234/067.p/7") == Tile(2, 1234067, 7)
    assert parse_tile_path("entries/005") == Tile(None, 5)
    assert Tile(0, 1234067, 8).path == "tile/0/x001/x234/067.p/8"


@pytest.mark.parametrize(
    "bad",
    [
        "0/1",
        "0/0001",
        "00/000",
        "64/000",
        "0/x000/001",
        "0/000.p/256",
        "0/000.p/0",
        "0/000.p/01",
        "x/000",
        "0/001/002",
        "0",
    ],
)
def test_malformed_tile_paths(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_tile_path(bad)


def tiles_of(tree: MerkleTree):  # type: ignore[no-untyped-def]
    fetched: list[Tile] = []

    def fetch(t: Tile) -> bytes:
        fetched.append(t)
        level = tree.levels[t.merkle_level]
        return b"".join(level[t.index * 256 : t.index * 256 + t.width])

    return fetch, fetched


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 70000])
def test_roots_and_proofs_from_tiles(size: int) -> None:
    tree = MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    fetch, _fetched = tiles_of(tree)
    tiled = TiledTree(size, fetch)
    assert tiled.root() == tree.root()
    for i in {0, size // 2, size - 1}:
        assert tiled.inclusion_proof(i) == tree.inclusion_proof(i)
        verify_inclusion(tree.levels[0][i], i, size, tiled.inclusion_proof(i), tree.root())
    for old in {1, size // 3 or 1, size - 1 or 1}:
        proof = tiled.consistency_proof(old)
        assert proof == tree.consistency_proof(old, size)
        verify_consistency(old, size, tree.root(old), tree.root(), proof)
    if size == 70000:  # 273 full level-0 tiles, partial widths 112 / 17 / 1 above
        assert TiledTree.needed(size, lambda t: t.root()) >= {Tile(1, 1, 17), Tile(2, 0, 1)}
        assert Tile(0, 273, 112) in TiledTree.needed(size, lambda t: t.inclusion_proof(69999))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    assert unbundle(bundle(entries)) == entries


def test_bundle_limits() -> None:
    with pytest.raises(UsageError):
        bundle([b"x" * 65536])
    with pytest.raises(VerificationError):
        unbundle(b"\x00\x05abc")


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    tree = MerkleTree([leaf_hash(bytes([i])) for i in range(10)])
    with pytest.raises(VerificationError, match="31 bytes, expected 320"):
        TiledTree(10, lambda t: b"\0" * 31).root()
    assert TiledTree(10, tiles_of(tree)[0]).root() == tree.root()
