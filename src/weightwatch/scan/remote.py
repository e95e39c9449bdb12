"""Scanning repositories on a Hub-compatible endpoint without downloading them whole:
``hf://ORG/NAME[@REV]`` sources are mirrored sparsely (``artifacts.remote``) and scanned
like local folders; the cost of each (bytes fetched of the total) comes back with the
report."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from weightwatch.artifacts.remote import MirrorStats, RemoteRepo, mirror
from weightwatch.scan.findings import ScanReport
from weightwatch.scan.scanner import scan_paths

PREFIX = "hf://"


def scan_sources(
    sources: Sequence[str], *, endpoint: str | None = None, token: str | None = None
) -> tuple[ScanReport, dict[str, MirrorStats]]:
    """Scan local paths and ``hf://`` repositories together, in the order given."""
    stats: dict[str, MirrorStats] = {}
    with tempfile.TemporaryDirectory(prefix="ww-remote-") as tmp:
        paths: list[Path] = []
        for i, src in enumerate(sources):
            if not src.startswith(PREFIX):
                paths.append(Path(src))
                continue
            ref = RemoteRepo.parse(src)
            dest = Path(tmp) / str(i) / ref.repo.split("/")[1]
            stats[str(ref)] = mirror(ref, dest, endpoint=endpoint, token=token)
            paths.append(dest)
        return scan_paths(paths), stats
