"""RFC 9162 Merkle trees: known answers, and every proof verifies while every tamper fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightwatch.errors import VerificationError
from weightwatch.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion

# The reference leaves and roots of the Certificate Transparency test suite (RFC 6962).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_roots():
    tree = MerkleTree([leaf_hash(x) for x in CT_LEAVES])
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    assert tree.root(0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _tree(n: int) -> MerkleTree:
    return MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(n)])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 300).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(1, n))
    )
)
def test_proofs_verify_and_tampering_fails(args):
    n, index, old = args
    tree = _tree(n)
    root = tree.root()
    proof = tree.inclusion_proof(index)
    leaf = tree.levels[0][index]
    verify_inclusion(leaf, index, n, proof, root)
    with pytest.raises(VerificationError):
        verify_inclusion(leaf_hash(b"tampered"), index, n, proof, root)
    if proof:
        bad = list(proof)
        bad[len(bad) // 2] = bytes([bad[len(bad) // 2][0] ^ 1]) + bad[len(bad) // 2][1:]
        with pytest.raises(VerificationError):
            verify_inclusion(leaf, index, n, bad, root)
        with pytest.raises(VerificationError):
            verify_inclusion(leaf, index, n, proof[:-1], root)
    with pytest.raises(VerificationError):
        verify_inclusion(leaf, index, n, [*proof, root], root)
    if n > 1:
        with pytest.raises(VerificationError):
            verify_inclusion(leaf, (index + 1) % n, n, proof, root)
    cproof = tree.consistency_proof(old)
    verify_consistency(old, n, tree.root(old), root, cproof)
    if old < n:
        with pytest.raises(VerificationError):
            verify_consistency(old, n, tree.root(old), leaf_hash(b"forged head"), cproof)
        with pytest.raises(VerificationError):
            verify_consistency(old, n, leaf_hash(b"forged old"), root, cproof)
        if cproof:
            with pytest.raises(VerificationError):
                verify_consistency(old, n, tree.root(old), root, cproof[1:])
