"""Files split into parts: ``x.part1, x.part2``, ``x.001, x.002``, ``split``'s ``xaa, xab``.

A group is two or more files with one stem and a run of suffixes with no gap, starting at
the first (``part1``/``part0``, ``001``/``000``, ``aa``), whose first part begins like a
known format (its magic bytes) and whose later parts do not: a name alone never makes
a group, so ``data.01`` beside an unrelated ``data.02`` is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from weightwatch.artifacts.model import WEIGHT_FORMATS, WRAPPER_FORMATS, FileFormat
from weightwatch.errors import ArtifactError

_PATTERNS = (
    re.compile(r"^(?P<stem>.+?)[._-]?part(?P<n>\d{1,4})$", re.IGNORECASE),
    re.compile(r"^(?P<stem>.+?)\.(?P<n>\d{2,4})$"),
    re.compile(r"^(?P<stem>.*?)\.?(?P<a>[a-z]{2})$"),  # split's default suffixes
)
_STARTS = frozenset(WEIGHT_FORMATS | WRAPPER_FORMATS)
_LATER = frozenset({FileFormat.UNKNOWN, FileFormat.TEXT, FileFormat.EMPTY})


@dataclass(frozen=True)
class SplitGroup:
    joined: str  # the view path of the joined file
    parts: tuple[str, ...]  # in order


def _index(m: re.Match[str]) -> int:
    if m.groupdict().get("a"):
        a = m.group("a").lower()
        return (ord(a[0]) - 97) * 26 + ord(a[1]) - 97
    return int(m.group("n"))


def split_groups(entries: list[tuple[str, FileFormat]]) -> list[SplitGroup]:
    fmt_of = dict(entries)
    groups: list[SplitGroup] = []
    used: set[str] = set()
    for pattern in _PATTERNS:
        by_stem: dict[str, list[tuple[int, str]]] = {}
        for rel, _fmt in entries:
            if rel in used:
                continue
            m = pattern.match(rel)
            if m and (m.group("stem") or "/" not in rel):
                by_stem.setdefault(m.group("stem"), []).append((_index(m), rel))
        for stem, members in sorted(by_stem.items()):
            members.sort()
            idx = [i for i, _ in members]
            if len(members) < 2 or idx[0] > 1 or idx != list(range(idx[0], idx[0] + len(idx))):
                continue
            rels = [r for _, r in members]
            if fmt_of[rels[0]] not in _STARTS or any(fmt_of[r] not in _LATER for r in rels[1:]):
                continue
            joined = stem.rstrip("._-") or "joined"
            groups.append(SplitGroup(joined, tuple(rels)))
            used.update(rels)
    return groups


def join_parts(parts: list[Path], out: Path, *, limit: int) -> int:
    """Concatenate ``parts`` into ``out``; refuse past ``limit`` bytes."""
    total = sum(p.stat().st_size for p in parts)
    if total > limit:
        raise ArtifactError(parts[0].name, f"split parts add up to {total} bytes: over the limit")
    with open(out, "wb") as f:
        for p in parts:
            with open(p, "rb") as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
    return total
