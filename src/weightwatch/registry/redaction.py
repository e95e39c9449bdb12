"""Names of versions a reader may not see, taken out of what is shown to them.

Stored reports and decision reasons name other versions: a detected parent, the model a
licence obligation comes from, a candidate the lineage step weighed. Shown as stored,
they would let a publisher learn the names of models hidden from them by uploading copies
of weights. Every label ``namespace/name@number`` that the reader may not see, and its
``namespace/name``, becomes ``HIDDEN``, whether the version is hidden or does not exist:
the two read alike, as a 404 does."""

from __future__ import annotations

import re

HIDDEN = "<a model you may not see>"

_LABEL = re.compile(
    r"(?<![A-Za-z0-9_.\-/])([A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*@\d+)"
)


def mentioned(text: str) -> set[str]:
    """Every version label ``text`` mentions."""
    return set(_LABEL.findall(text))


def redact(text: str, labels: list[str]) -> str:
    """``text`` with every mention of the versions ``labels`` (``ns/name@n``, and their
    ``ns/name``) replaced by ``HIDDEN``."""
    for label in labels:
        text = text.replace(label, HIDDEN)
        base = re.escape(label.rsplit("@", 1)[0])
        text = re.sub(rf"(?<![A-Za-z0-9_./\-]){base}(?![A-Za-z0-9_.\-])", HIDDEN, text)
    return text
