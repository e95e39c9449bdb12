"""Keyed, vectorised 64-bit hashing of (context, token) pairs.

Every native scheme turns a (context tokens, candidate token) tuple into a 64-bit value
with a splitmix64-style chain over NumPy ``uint64`` arrays: a few array operations per
context position, never a Python loop per token, and nothing proportional to the
vocabulary. This is a statistical PRF (outputs for distinct inputs behave as independent
uniforms for a key the text does not depend on), not a cryptographic one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TWO_POW_M53 = 2.0**-53


def mix64(z: U64) -> U64:
    """The splitmix64 finaliser, in place on ``z`` (a bijection on 64-bit words)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def absorb(state: U64, values: npt.NDArray[np.integer]) -> U64:
    """Fold one more word into each state: ``mix64(state + (value + 1) * golden)``."""
    v = values.astype(np.uint64, copy=True)
    v += np.uint64(1)
    v *= _GOLDEN
    out = np.add(state, v)
    return mix64(out)


def chain_hash(
    key_words: tuple[int, int],
    parts: Sequence[npt.NDArray[np.integer]],
) -> U64:
    """Hash tuples given column-wise: ``parts[j]`` holds element j of every tuple.

    Parts broadcast against each other (a (B, 1) context against (B, K) candidates).
    The first key word seeds the chain, the second is mixed in last, so equal tuples
    give equal words and distinct tuples independent-looking ones.
    """
    # states broadcast lazily: a (B, 1) context is hashed once per row, not per candidate
    state = np.full((), key_words[0], dtype=np.uint64)
    for part in parts:
        state = absorb(state, part)
    state = np.bitwise_xor(state, np.uint64(key_words[1]))
    return mix64(state)


def to_unit(words: U64) -> F64:
    """Map 64-bit words to uniforms in [0, 1) with 53 bits of resolution."""
    return (words >> np.uint64(11)).astype(np.float64) * _TWO_POW_M53


def to_open_unit(words: U64) -> F64:
    """Map 64-bit words to uniforms in the open interval (0, 1)."""
    return ((words >> np.uint64(11)).astype(np.float64) + 0.5) * _TWO_POW_M53


def unit_below(words: U64, p: float) -> npt.NDArray[np.bool_]:
    """``to_unit(words) < p`` exactly, without the float conversion."""
    threshold = np.uint64(min(math.ceil(p * 2.0**53), 2**53))
    return (words >> np.uint64(11)) < threshold


def popcount(words: U64) -> npt.NDArray[np.uint64]:
    """Set bits of each word; NumPy >= 2 has it built in, older NumPy takes the SWAR path."""
    builtin = getattr(np, "bitwise_count", None)
    if builtin is not None:
        return np.asarray(builtin(words), dtype=np.uint64)
    x = words - ((words >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    out: npt.NDArray[np.uint64] = (x * np.uint64(0x0101010101010101)) >> np.uint64(56)
    return out


def key_words(material: bytes, *, offset: int = 0) -> tuple[int, int]:
    """Two 64-bit key words from 16 bytes of key material."""
    a = int.from_bytes(material[offset : offset + 8], "little")
    b = int.from_bytes(material[offset + 8 : offset + 16], "little")
    return a, b


def pair_words(a: npt.NDArray[np.integer], b: npt.NDArray[np.integer]) -> U64:
    """An unkeyed 64-bit identifier of (a, b) pairs, used to deduplicate hash inputs."""
    return chain_hash((0x6A09E667F3BCC908, 0xBB67AE8584CAA73B), (a, b))


__all__ = [
    "absorb",
    "chain_hash",
    "key_words",
    "mix64",
    "pair_words",
    "popcount",
    "to_open_unit",
    "to_unit",
    "unit_below",
]
