"""Content identity: file digests, the format-invariant weights digest, the GGUF value digest."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.artifacts.builders import safetensors_bytes
from weightwatch.identity import compute_manifest
from weightwatch.testing.gguf_export import export_gguf

GOLDEN = Path(__file__).parent / "golden"


def _golden_folder(root: Path) -> Path:
    root.mkdir()
    # written by our own fixed serializer, so library upgrades cannot move the golden bytes
    tensors = {
        "a.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b.bias": np.array([1, -1], np.int8),
    }
    (root / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    (root / "config.json").write_text('{"model_type": "llama"}\n')
    return root


@pytest.mark.parametrize("algorithm", ["sha256", "blake3"])
def test_golden_manifest(tmp_path, algorithm):
    """The canonical serialization is fixed: a change here breaks every past signature."""
    manifest = compute_manifest(_golden_folder(tmp_path / "m"), algorithm=algorithm)
    golden = GOLDEN / f"manifest-{algorithm}.json"
    assert manifest.canonical_json() == golden.read_bytes().strip()
    assert json.loads(golden.read_bytes())["schema_version"] == "1"


def test_file_digests_match_hashlib(tmp_path):
    root = _golden_folder(tmp_path / "m")
    manifest = compute_manifest(root)
    for f in manifest.files:
        assert f.digest == hashlib.sha256((root / f.path).read_bytes()).hexdigest()
        assert f.size == (root / f.path).stat().st_size


@pytest.mark.slow
def test_same_weights_same_digest_across_formats(tmp_path, llama_family, gpt2_family):
    import transformers

    for family in (llama_family, gpt2_family):
        model = transformers.AutoModelForCausalLM.from_pretrained(family.base)
        sharded = tmp_path / f"{family.arch}-sharded"
        model.save_pretrained(sharded, max_shard_size="200KB")
        assert (sharded / "model.safetensors.index.json").exists()
        digests = {
            name: compute_manifest(p)
            for name, p in [
                ("safetensors", family.base),
                ("sharded", sharded),
                ("bin", family.base_bin),
                ("legacy", family.base_bin_legacy),
            ]
        }
        weights = {m.weights_digest for m in digests.values()}
        values = {m.value_digest for m in digests.values()}
        assert len(weights) == 1 and len(values) == 1, (family.arch, weights)
        assert compute_manifest(family.finetune).weights_digest not in weights


@pytest.mark.slow
def test_flipped_bit_changes_digest_and_diff_names_file(tmp_path, llama_family):
    src = llama_family.base
    signed = compute_manifest(src)
    rng = np.random.default_rng(0)
    for target in ("model.safetensors", "config.json"):
        copy = tmp_path / target.replace(".", "_")
        shutil.copytree(src, copy)
        data = bytearray((copy / target).read_bytes())
        header = 8 + int.from_bytes(data[:8], "little") if target.endswith("safetensors") else 0
        pos = int(rng.integers(header, len(data)))
        data[pos] ^= 1 << int(rng.integers(0, 8))
        (copy / target).write_bytes(bytes(data))
        if target == "config.json":
            (copy / target).write_text((copy / target).read_text().replace("128", "256", 1))
        now = compute_manifest(copy)
        diff = signed.diff_files(now)
        assert diff.changed == [target] and not diff.missing and not diff.added
        if target.endswith("safetensors"):
            assert now.weights_digest != signed.weights_digest
            changed = [
                a.name
                for a, b in zip(signed.tensors, now.tensors, strict=True)
                if a.digest != b.digest
            ]
            assert len(changed) == 1
    (tmp_path / "extra").mkdir()
    shutil.copytree(src, tmp_path / "extra" / "m")
    (tmp_path / "extra" / "m" / "tokenizer.json").unlink()
    (tmp_path / "extra" / "m" / "new.txt").write_text("x")
    diff = signed.diff_files(compute_manifest(tmp_path / "extra" / "m"))
    assert diff.missing == ["tokenizer.json"] and diff.added == ["new.txt"] and diff.changed == []


@pytest.mark.slow
def test_value_digest_matches_gguf_export_of_same_values(tmp_path, llama_family):
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(llama_family.base).to(torch.float16)
    model.save_pretrained(tmp_path / "f16")
    export_gguf(model, llama_family.tokenizer, tmp_path / "m-f16.gguf", qtype="F16")
    export_gguf(model, llama_family.tokenizer, tmp_path / "m-q8.gguf", qtype="Q8_0")
    hf = compute_manifest(tmp_path / "f16")
    gguf_f16 = compute_manifest(tmp_path / "m-f16.gguf")
    assert gguf_f16.value_digest == hf.value_digest
    assert gguf_f16.weights_digest != hf.weights_digest  # names and layout differ
    assert compute_manifest(tmp_path / "m-q8.gguf").value_digest != hf.value_digest
    # the F32 original holds other values than its F16 export
    assert compute_manifest(llama_family.base).value_digest != hf.value_digest
