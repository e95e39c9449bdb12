"""Red team: an uploader tries to get round a takedown, and to slip in files the
registry cannot see. On SQLite and PostgreSQL, through ``Registry.register`` and the
``weightwatch register`` CLI (the server's uploads: tests/server/test_takedowns_server.py).

Every copy of a taken-down version — identical under another organisation, int8, GGUF
Q4_0, hidden-unit permuted, fine-tuned — is *blocked* with a reason naming the withdrawn
version and the takedown's reason, is drawn in its lineage, cannot be downloaded by
anyone but staff, and is lifted by a reinstatement — also when wrapped (gzip, bzip2,
zip, tar.gz, split parts, a renamed file), which the artifact layer opens.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from weightwatch.cli import main
from weightwatch.errors import ArtifactError
from weightwatch.registry import Registry
from weightwatch.registry.access import Principal

pytestmark = pytest.mark.slow

REASON = "leaked weights (DMCA 2026-114)"


@pytest.fixture(scope="module")
def gguf_q4(llama_family, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The base exported to GGUF with Q4_0 weights (llama.cpp layout)."""
    from transformers import AutoModelForCausalLM

    from weightwatch.testing.gguf_export import export_gguf

    out = tmp_path_factory.mktemp("q4") / "model-q4_0.gguf"
    export_gguf(
        AutoModelForCausalLM.from_pretrained(llama_family.base),
        llama_family.tokenizer,
        out,
        qtype="Q4_0",
    )
    return out


def _taken_down(registry: Registry, base: Path) -> None:
    assert registry.register(base, "acme/base").status == "published"
    registry.takedown("acme/base@1", reason=REASON, actor="moderator")


def _assert_blocked(registry: Registry, label: str, relation: str) -> None:
    v = registry.status(label)
    assert v.status == "blocked", (label, v.decision)
    first = v.decision.reasons[0] if v.decision else ""
    assert first.startswith("copy of withdrawn acme/base@1"), v.decision
    assert REASON in first and "[withdrawn-copy]" in first
    assert ("acme/base@1", relation) in [(e.model, e.relation) for e in v.parents]
    row = registry.resolve(*label.split("@")[0].split("/"))
    user = Principal("carol", "user")
    publisher = Principal("mallory", "publisher", ("evil",))
    for who in (None, user, publisher):  # nobody downloads it, nobody but staff sees it
        seen = registry.visibility(who, row)
        assert not seen.contents and not seen.exists, (who, seen)
    assert registry.visibility(Principal("rev", "reviewer"), row).exists


def test_copies_of_a_taken_down_version_are_blocked_and_lifted_by_reinstatement(
    registry, llama_family, gguf_q4
):  # type: ignore[no-untyped-def]
    _taken_down(registry, llama_family.base)
    copies = {
        "evil/identical": (llama_family.base, "identical"),
        "evil/int8": (llama_family.int8, "quantized"),
        "evil/q4": (gguf_q4, "quantized"),
        "evil/permuted": (llama_family.permuted, "identical"),
        "evil/finetune": (llama_family.finetune, "finetune"),
    }
    for name, (path, _) in copies.items():
        registry.register(path, name)
    for name, (_, relation) in copies.items():
        _assert_blocked(registry, f"{name}@1", relation)
    tree = registry.lineage_tree("acme/base@1")
    assert {f"{n}@1" for n in copies} <= {c.model for c in tree.children}

    registry.reinstate("acme/base@1", reason="counter-notice accepted")
    for name in copies:
        v = registry.status(f"{name}@1")
        assert v.status != "blocked", (name, v.decision)
        assert not any("withdrawn-copy" in r for r in v.decision.reasons)
        assert v.decision.cause == "reinstatement of acme/base@1"


def test_a_copy_under_another_name_and_card_is_blocked_by_its_digest(
    registry, llama_family, tmp_path
):  # type: ignore[no-untyped-def]
    """The same tensors with a new README and config name: matched even before the
    fingerprint search (same weights digest)."""
    _taken_down(registry, llama_family.base)
    copy = tmp_path / "renamed"
    shutil.copytree(llama_family.base, copy)
    (copy / "README.md").write_text("---\nlicense: mit\n---\n# totally new model\n")
    v = registry.register(copy, "evil/renamed")
    assert v.status == "blocked"
    assert json.loads(json.dumps(registry.report(registry.version_id("evil/renamed", any_state=True), "lineage")))["withdrawn"][0]["version"] == "acme/base@1"  # fmt: skip


def _wrapped(base: Path, dest: Path, how: str) -> Path:
    """The base folder with its weights wrapped the way an evader would."""
    shutil.copytree(base, dest)
    weights = dest / "model.safetensors"
    data = weights.read_bytes()
    if how == "gz":
        (dest / "model.safetensors.gz").write_bytes(gzip.compress(data))
    elif how == "bz2":
        (dest / "model.safetensors.bz2").write_bytes(bz2.compress(data))
    elif how == "zip":
        with zipfile.ZipFile(dest / "weights.zip", "w") as zf:
            zf.write(weights, "model.safetensors")
    elif how == "tar.gz":
        with tarfile.open(dest / "weights.tar.gz", "w:gz") as tf:
            tf.add(weights, "model.safetensors")
    elif how == "split":
        half = len(data) // 2
        (dest / "model.safetensors.part1").write_bytes(data[:half])
        (dest / "model.safetensors.part2").write_bytes(data[half:])
    elif how == "renamed":
        (dest / "weights.dat").write_bytes(data)
    elif how == "xz":
        (dest / "model.safetensors.xz").write_bytes(lzma.compress(data))
    elif how == "zst":
        import zstandard

        (dest / "model.safetensors.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    elif how == "lz4":
        import lz4.frame

        (dest / "model.safetensors.lz4").write_bytes(lz4.frame.compress(data))
    elif how == "7z":
        import py7zr

        with py7zr.SevenZipFile(dest / "weights.7z", "w") as sz:
            sz.write(weights, "model.safetensors")
    elif how == "nested":  # a zip inside a tar.gz
        inner = dest / "inner.zip"
        with zipfile.ZipFile(inner, "w") as zf:
            zf.write(weights, "model.safetensors")
        with tarfile.open(dest / "weights.tar.gz", "w:gz") as tf:
            tf.add(inner, "inner.zip")
        inner.unlink()
    elif how == "shards-no-index":  # two real shards, the index left out
        from safetensors.numpy import load_file, save_file

        tensors = load_file(str(weights))
        names = sorted(tensors)
        half = len(names) // 2
        for i, part in enumerate((names[:half], names[half:]), start=1):
            shard = dest / f"model-{i:05d}-of-00002.safetensors"
            save_file({n: tensors[n] for n in part}, str(shard))
    weights.unlink()
    return dest


@pytest.mark.parametrize("how", ["gz", "bz2", "zip", "tar.gz", "split", "renamed"])
def test_wrapped_copies_are_never_published(registry, llama_family, tmp_path, how):  # type: ignore[no-untyped-def]
    """Today (before the artifact layer opens wrappers) a wrapped copy is at least
    quarantined as not inspectable, or (a truncated first part) fails registration with
    the file named — never published as it was before this change."""
    _taken_down(registry, llama_family.base)
    v = registry.register(_wrapped(llama_family.base, tmp_path / how, how), f"evil/{how}")
    if v.state == "failed":  # invisible to all but staff, with the reason
        assert v.error and "model.safetensors.part1" in v.error
        return
    assert v.status in ("blocked", "quarantined"), v.decision
    assert v.status == "blocked" or any(
        r.startswith("weights not inspectable: ") for r in v.decision.reasons
    )


WRAPPERS = [
    "gz", "bz2", "xz", "zst", "lz4", "zip", "tar.gz", "7z", "nested", "split", "renamed",
    "shards-no-index",
]  # fmt: skip


@pytest.mark.parametrize("how", WRAPPERS)
def test_wrapped_copies_of_a_taken_down_version_are_blocked(registry, llama_family, tmp_path, how):  # type: ignore[no-untyped-def]
    _taken_down(registry, llama_family.base)
    registry.register(_wrapped(llama_family.base, tmp_path / how, how), f"evil/{how}")
    _assert_blocked(registry, f"evil/{how}@1", "identical")


# -- say what was not seen -------------------------------------------------------------


def test_an_empty_folder_is_refused_before_anything_is_stored(registry, tmp_path):  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="empty: there is no model"):
        registry.register(empty, "evil/empty")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("nothing to see")
    with pytest.raises(ArtifactError, match="holds no model"):
        registry.register(notes, "evil/notes")
    assert registry.model_id("evil/empty") is None and registry.model_id("evil/notes") is None


@pytest.mark.parametrize(
    ("content", "why"),
    [(os.urandom(8192), "unknown"), (b"just some text\n" * 100, "text")],
    ids=["random-bytes", "text"],
)
def test_unreadable_weights_are_quarantined_with_the_file_named(registry, tmp_path, content, why):  # type: ignore[no-untyped-def]
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(content)
    v = registry.register(folder, "evil/unreadable")
    assert v.status == "quarantined"
    (reason,) = [r for r in v.decision.reasons if r.startswith("weights not inspectable: ")]
    assert reason.startswith("weights not inspectable: model.safetensors: ") and why in reason
    facts = registry.report(registry.version_id("evil/unreadable", any_state=True), "facts")
    assert facts["weights_inspectable"] is False


def test_register_cli_refuses_and_quarantines(tmp_path, db_url, llama_family, capsys):  # type: ignore[no-untyped-def]
    reg = ["--registry", str(tmp_path / "reg"), "--db-url", db_url]

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, *reg])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("registry", "init")[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run("register", str(empty), "--name", "evil/empty")
    assert code == 2 and "is empty: there is no model" in err and "Traceback" not in err
    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "model.safetensors").write_bytes(os.urandom(4096))
    code, out, err = run("register", str(rb), "--name", "evil/rb", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "quarantined"
    assert any(
        r.startswith("weights not inspectable: model.safetensors")
        for r in doc["decision"]["reasons"]
    )

    assert run("register", str(llama_family.base), "--name", "acme/base")[0] == 0
    assert run("takedown", "acme/base@1", "--reason", REASON)[0] == 0
    code, out, err = run("register", str(llama_family.int8), "--name", "evil/int8", "--json")
    doc = json.loads(out)
    assert doc["status"] == "blocked"
    assert doc["decision"]["reasons"][0].startswith("copy of withdrawn acme/base@1 (quantized)")
