"""Moving a single-machine registry to an object store with the CLI, and collecting."""

from __future__ import annotations

import json

import pytest

from weightwatch.cli import main
from weightwatch.registry import Registry

pytestmark = pytest.mark.integration


def test_migrate_blobs_then_serve_from_s3(tmp_path, llama_family, s3_blobs, monkeypatch, capsys):
    monkeypatch.delenv("WEIGHTWATCH_BLOBS_URL", raising=False)
    root = tmp_path / "reg"
    reg = Registry.open(root, init=True)
    reg.register(llama_family.base, "acme/base")
    files = reg.files(reg.resolve("acme", "base", "main").id)
    reg.close()
    cmd = ["registry", "migrate-blobs", "--to", s3_blobs, "--registry", str(root), "--json"]
    assert main(cmd) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["copied"] == len({f.sha256 for f in files}) and doc["skipped"] == 0
    assert main(cmd) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 0  # resumable: nothing sent twice
    monkeypatch.setenv("WEIGHTWATCH_BLOBS_URL", s3_blobs)  # the hosts switch over
    moved = Registry.open(root)
    try:
        assert moved.store.blobs.url == s3_blobs
        for f in files:
            data = b"".join(moved.store.blobs.chunks(f.sha256))
            assert data == (llama_family.base / f.path).read_bytes()
    finally:
        moved.close()
    assert main(["registry", "gc", "--registry", str(root), "--json", "--grace-hours", "0"]) == 0
    gc = json.loads(capsys.readouterr().out)
    assert gc["store"] == s3_blobs and gc["deleted"] == []  # every blob is referenced


def test_migrating_to_the_same_store_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WEIGHTWATCH_BLOBS_URL", raising=False)
    root = tmp_path / "reg"
    Registry.open(root, init=True).close()
    target = f"file://{root / 'blobs'}"
    assert main(["registry", "migrate-blobs", "--to", target, "--registry", str(root)]) == 2
    assert "already uses" in capsys.readouterr().err


def test_an_unknown_store_url_is_a_usage_error(tmp_path, capsys):
    root = tmp_path / "reg"
    Registry.open(root, init=True).close()
    assert main(["registry", "migrate-blobs", "--to", "ftp://x", "--registry", str(root)]) == 2
    assert "s3://BUCKET" in capsys.readouterr().err
