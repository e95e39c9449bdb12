"""``compute_manifest(known=...)``: digests the caller already has are not computed again."""

from __future__ import annotations

from pathlib import Path

import pytest

import weightwatch.identity.manifest as manifest_mod
from weightwatch.identity import compute_manifest


def test_known_digest_is_used_and_file_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "b.txt").write_bytes(b"beta")
    full = compute_manifest(tmp_path, tensors=False)
    digests = {f.path: f.digest for f in full.files}
    read: list[str] = []
    real = manifest_mod.hash_file

    def spy(p: Path, *args: object, **kw: object) -> str:
        read.append(p.name)
        return real(p, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(manifest_mod, "hash_file", spy)
    again = compute_manifest(tmp_path, tensors=False, known={"a.txt": digests["a.txt"]})
    assert read == ["b.txt"]
    assert again.files == full.files
