"""How large a pickle either of our stack machines will run: one set of limits.

The reader (``unpickler.run``) and the scanner (``scan.pickles.analyze``) take the same
``PickleLimits`` (``LIMITS`` by default), so a stream the reader refuses as too large is
one the scanner reports as past its limits, never one it quietly calls clean.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PickleLimits:
    """Hard caps on one pickle stream; each is "at most", checked as the stream runs."""

    ops: int  # opcodes
    memo: int  # memo entries
    stack: int  # values on the stack (not counting MARKs)
    depth: int  # MARKs open at once


# Sizes: torch.save writes ~32 opcodes and ~8 memo entries per tensor (~90 and ~20 per
# Adam parameter), so a 70B-parameter state dict is ~25k opcodes and 20M opcodes is some
# 600k tensors. Memo at ops/4 means the opcode limit is the one a torch pickle meets
# first. The pickler batches list and dict items by 1000, so a weight file's stack holds
# the open containers plus one batch, and a state dict nests a handful of MARKs deep.
# Memory (tracemalloc, CPython 3.11): an opcode keeps at most ~150 bytes alive (an empty
# set and its memo slot), so ``ops`` caps what a hostile stream makes the reader hold near
# 3 GB; the scanner keeps only its stack and memo, ~180 bytes a memo entry and ~90 a stack
# slot, so ``memo`` and ``stack`` cap it near 1 GB.
LIMITS = PickleLimits(ops=20_000_000, memo=5_000_000, stack=1_000_000, depth=10_000)
