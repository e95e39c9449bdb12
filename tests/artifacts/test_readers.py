"""Each reader on small hand-built files, against the reference loaders."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from tests.artifacts.builders import safetensors_bytes
from weightwatch.artifacts import FileFormat, detect_format, open_artifact
from weightwatch.errors import ArtifactError


def test_safetensors_single_and_views(tmp_path):
    arrs = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1, -2], dtype=np.int8),
    }
    save_file(arrs, tmp_path / "x.safetensors")
    art = open_artifact(tmp_path / "x.safetensors")
    got = {t.name: t.data() for t in art.iter_tensors()}
    assert set(got) == {"a", "b"}
    for k, v in arrs.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v)
        assert not got[k].flags.writeable
        assert not got[k].flags.owndata  # a view, not a copy
    assert art.totals.parameter_count == 14
    assert art.totals.bytes_by_dtype == {"F32": 48, "I8": 2}


def test_sharded_safetensors_with_index(tmp_path):
    save_file({"x": np.ones(4, np.float32)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"y": np.zeros((2, 2), np.float16)}, tmp_path / "model-00002-of-00002.safetensors")
    index = {
        "metadata": {},
        "weight_map": {
            "x": "model-00001-of-00002.safetensors",
            "y": "model-00002-of-00002.safetensors",
        },
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    art = open_artifact(tmp_path)
    assert art.primary_files == (
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    )
    assert [t.name for t in art.iter_tensors()] == ["x", "y"]
    assert art.totals.parameter_count == 8
    index["weight_map"]["z"] = "model-00003-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ArtifactError, match="model-00003"):
        open_artifact(tmp_path)


def test_folder_prefers_safetensors_over_bin(tmp_path):
    save_file({"w": np.ones(3, np.float32)}, tmp_path / "model.safetensors")
    torch.save({"w": torch.ones(3)}, tmp_path / "pytorch_model.bin")
    art = open_artifact(tmp_path)
    assert art.primary_files == ("model.safetensors",)
    assert art.totals.parameter_count == 3  # not counted twice
    assert [t.name for t in art.iter_tensors(file="pytorch_model.bin")] == ["w"]


def test_torch_views_shared_storage_and_nesting(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {
        "model": {"w": base, "col": base[:, 2], "t": base.t(), "tied": base},
        "optim": {"state": {0: {"exp_avg": torch.zeros(3, dtype=torch.float16)}}, "step": 7},
        "ints": torch.tensor([1, 2, 3], dtype=torch.int64),
    }
    for legacy in (False, True):
        path = tmp_path / f"ckpt-{legacy}.pt"
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        art = open_artifact(path)
        got = {t.name: t for t in art.iter_tensors()}
        assert set(got) == {
            "model.w",
            "model.col",
            "model.t",
            "model.tied",
            "optim.state.0.exp_avg",
            "ints",
        }
        assert np.array_equal(got["model.col"].data(), base[:, 2].numpy())
        assert np.array_equal(got["model.t"].data(), base.t().numpy())
        assert got["model.w"].storage_key == got["model.tied"].storage_key
        assert got["optim.state.0.exp_avg"].dtype == "F16"
        # w and tied share storage and view: counted once; col and t are other views
        assert art.totals.parameter_count == 24 + 4 + 24 + 3 + 3


def test_whole_module_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(ArtifactError, match=r"refused callable torch\.nn\.modules\.linear\.Linear"):
        open_artifact(tmp_path / "module.pt")


def test_numpy(tmp_path):
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "f.npy", np.asfortranarray(a))
    np.savez(tmp_path / "z.npz", x=a, y=np.ones(2, np.int32))
    np.savez_compressed(tmp_path / "c.npz", x=a)
    for name in ("a.npy", "f.npy"):
        t = next(open_artifact(tmp_path / name).iter_tensors())
        assert np.array_equal(t.data(), a) and t.dtype == "F64"
    for name in ("z.npz", "c.npz"):
        art = open_artifact(tmp_path / name)
        assert art.files[0].format is FileFormat.NUMPY_ZIP
        got = {t.name: t.data() for t in art.iter_tensors()}
        assert np.array_equal(got["x"], a)
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactError, match="object arrays"):
        open_artifact(tmp_path / "o.npy")


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"])
def test_gguf_types(tmp_path, qtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 256)).astype(np.float32)
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("t")
    t = gguf.GGMLQuantizationType[qtype]
    if qtype == "F32":
        writer.add_tensor("w", w)
    elif qtype == "F16":
        writer.add_tensor("w", w.astype(np.float16))
    elif qtype.endswith("_K"):  # no NumPy quantizer for K-quants: random blocks
        block, nbytes = gguf.GGML_QUANT_SIZES[t]
        raw = rng.integers(0, 256, size=(8, 256 // block * nbytes), dtype=np.uint8)
        writer.add_tensor("w", raw, raw_dtype=t)
    else:
        writer.add_tensor("w", gguf.quants.quantize(w, t), raw_dtype=t)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tensor = next(open_artifact(path).iter_tensors())
    assert tensor.shape == (8, 256) and tensor.dtype == qtype
    ref = gguf.GGUFReader(path).tensors[0]
    expected = gguf.quants.dequantize(np.asarray(ref.data), ref.tensor_type).reshape(8, 256)
    np.testing.assert_array_equal(tensor.to_float32(), expected)
    if not qtype.endswith("_K"):
        assert np.abs(tensor.to_float32() - w).max() < (0.5 if qtype == "Q4_0" else 0.1)


def test_detection_ignores_extensions(tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "model.safetensors")  # a torch zip in disguise
    (tmp_path / "weights.bin").write_bytes(safetensors_bytes({"w": np.ones(2, np.float32)}))
    assert detect_format(tmp_path / "model.safetensors")[0] is FileFormat.PYTORCH_ZIP
    assert detect_format(tmp_path / "weights.bin")[0] is FileFormat.SAFETENSORS
    (tmp_path / "modeling.txt").write_text("import os\n\ndef f():\n    return os.getcwd()\n")
    assert detect_format(tmp_path / "modeling.txt")[0] is FileFormat.PYTHON


def test_card_front_matter_problems_are_recorded(tmp_path):
    save_file({"w": np.ones(1, np.float32)}, tmp_path / "model.safetensors")
    (tmp_path / "README.md").write_text("---\nlicense: [unclosed\n---\n# card\n")
    art = open_artifact(tmp_path)
    assert art.card is not None and art.card.license is None
    assert any("not valid YAML" in p for p in art.problems)
