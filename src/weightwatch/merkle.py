"""RFC 9162 (Certificate Transparency 2.0) Merkle trees: roots, inclusion proofs, checks.

One implementation serves the tensor tree of a model's weights identity and the
transparency log. Leaves are hashed ``H(0x00 || leaf)`` and nodes ``H(0x01 || l || r)``
so a leaf can never be passed off as a node. The hash function is a parameter (SHA-256
is the RFC's; BLAKE3 is allowed for the tensor tree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from weightwatch.errors import VerificationError

HashFn = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes, h: HashFn = sha256) -> bytes:
    return h(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes, h: HashFn = sha256) -> bytes:
    return h(b"\x01" + left + right)


class TreeView:
    """RFC 9162 roots and proofs over *perfect* subtree hashes supplied by ``_node``.

    ``_node(k, i)`` is the hash of the perfect subtree of ``2**k`` leaves starting at leaf
    ``i * 2**k``; every RFC subtree is assembled from O(log n) of them, so a store that
    keeps those nodes (the transparency log) answers proofs without recomputation.
    """

    h: HashFn
    size: int

    def _node(self, level: int, index: int) -> bytes:
        raise NotImplementedError

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all); the empty tree hashes ``H()``."""
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} out of range 0..{self.size}")
        return self.h(b"") if n == 0 else self._subtree(0, n)

    def _subtree(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        k = n.bit_length() - 1
        if n == 1 << k and lo % n == 0:
            return self._node(k, lo >> k)
        split = 1 << ((n - 1).bit_length() - 1)  # largest power of two < n
        return node_hash(self._subtree(lo, lo + split), self._subtree(lo + split, hi), self.h)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree of the first ``size`` leaves."""
        n = self.size if size is None else size
        if not 0 <= index < n <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of {n} leaves")
        return self._path(index, 0, n)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self._path(m, lo, lo + k), self._subtree(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._subtree(lo, lo + k)]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
        n = self.size if new is None else new
        if not 0 < old <= n <= self.size:
            raise ValueError(f"no consistency proof from {old} to {n} leaves")
        return [] if old == n else self._subproof(old, 0, n, True)

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self._subtree(lo, hi)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete), self._subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._subtree(lo, lo + k)]


class MerkleTree(TreeView):
    """A tree held in memory: ``levels[k][i]`` is perfect subtree ``(k, i)``."""

    def __init__(self, leaf_hashes: Sequence[bytes], h: HashFn = sha256) -> None:
        self.h = h
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            self.levels.append(
                [node_hash(prev[i], prev[i + 1], h) for i in range(0, len(prev) - 1, 2)]
            )
        self.size = len(self.levels[0])

    def _node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


def parents_completed_by(
    index: int, leaf: bytes, left_sibling: Callable[[int, int], bytes], h: HashFn = sha256
) -> list[tuple[int, int, bytes]]:
    """Perfect nodes that appending leaf ``index`` completes: ``(level, index, hash)``.

    ``left_sibling(level, i)`` returns the existing node ``(level, i)``. Leaf ``index``
    itself is level 0; each odd index at a level closes its pair one level up.
    """
    out = [(0, index, leaf)]
    level, i, cur = 0, index, leaf
    while i & 1:
        cur = node_hash(left_sibling(level, i - 1), cur, h)
        level, i = level + 1, i >> 1
        out.append((level, i, cur))
    return out


def verify_inclusion(
    leaf_hash_: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    h: HashFn = sha256,
) -> None:
    """RFC 9162 §2.1.3.2; raises ``VerificationError`` if the proof does not hold."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r, h)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, h)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the expected root")


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    h: HashFn = sha256,
) -> None:
    """RFC 9162 §2.1.4.2; raises ``VerificationError`` if the trees are not consistent."""
    if not 0 < old_size <= new_size:
        raise VerificationError(f"no consistency between sizes {old_size} and {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError("equal tree sizes with different roots")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        raise VerificationError("empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, h)
            sr = node_hash(c, sr, h)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c, h)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != old_root:
        raise VerificationError("consistency proof does not reproduce the old root")
    if sr != new_root:
        raise VerificationError("consistency proof does not reproduce the new root")
