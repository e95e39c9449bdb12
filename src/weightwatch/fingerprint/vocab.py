"""Token strings as raw bytes, so tokens are matched across tokenizers by what they spell.

Byte-level BPE (GPT-2, Llama 3, Qwen) writes each byte as a printable stand-in character
(``Ġ`` for a space); SentencePiece writes a space as ``▁`` and unknown bytes as
``<0xNN>``. Decoding both to bytes lets a re-trained, extended, trimmed or re-ordered
vocabulary still line up token by token with its parent's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from functools import cache

# Anchors: every printable ASCII character. Byte-level BPE has all of them as tokens,
# SentencePiece has them as pieces or byte fallbacks, and vocabulary trimming removes
# rare merges, not single characters. Their order fixes the fingerprint layout.
ANCHORS: tuple[bytes, ...] = tuple(bytes([c]) for c in range(0x20, 0x7F))

_SP_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@cache
def _byte_decoder() -> dict[str, int]:
    # The GPT-2 byte <-> unicode table: printable bytes stand for themselves, the rest
    # are shifted to code points 256 and up, in byte order.
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    chars, n = {b: b for b in keep}, 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + n
            n += 1
    return {chr(c): b for b, c in chars.items()}


def token_bytes(token: str, style: str) -> bytes | None:
    """The bytes a token spells, or ``None`` when it cannot be mapped (special tokens)."""
    if style == "byte_level":
        table = _byte_decoder()
        if all(ch in table for ch in token):
            return bytes(table[ch] for ch in token)
        return None
    m = _SP_BYTE.match(token)
    if m:
        return bytes([int(m.group(1), 16)])
    if token.startswith("<") and token.endswith(">") and len(token) > 2:
        return None  # <s>, </s>, <unk>, <|endoftext|> ...
    return token.replace("\u2581", " ").encode("utf-8")


def vocab_style(vocab: Mapping[str, int]) -> str:
    """``byte_level`` or ``sentencepiece``, from how the vocabulary writes a space."""
    firsts = Counter(t[:1] for t in vocab)  # one pass: a 262k vocabulary costs ~0.05 s
    return "sentencepiece" if firsts["\u2581"] > firsts["\u0120"] else "byte_level"


def _may_be_anchor(token: str) -> bool:
    """Only these can spell one byte: a single character (``Ġ``, ``▁``, a printable
    stand-in) or a SentencePiece byte piece ``<0xNN>``."""
    return len(token) == 1 or (len(token) == 6 and token.startswith("<0x"))


def anchor_ids(vocab: Mapping[str, int], n_rows: int) -> dict[bytes, int]:
    """Row index of each anchor the vocabulary has (first id wins on duplicates)."""
    style = vocab_style(vocab)
    wanted = set(ANCHORS)
    found: dict[bytes, int] = {}
    candidates = ((t, i) for t, i in vocab.items() if _may_be_anchor(t))
    for token, idx in sorted(candidates, key=lambda kv: kv[1]):
        if not 0 <= idx < n_rows:
            continue
        b = token_bytes(token, style)
        if b in wanted and b not in found:
            found[b] = idx
    return found
