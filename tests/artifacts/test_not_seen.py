"""#14 "say what was not seen": nothing readable is an error naming the file, never
"0 parameters" or "clean"; ``check_weights`` tells the registry what it could not see."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from weightwatch.artifacts import check_weights, open_artifact
from weightwatch.errors import ArtifactError, ScanError
from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import compare
from weightwatch.scan import scan_paths

WW = [sys.executable, "-m", "weightwatch"]


def _cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, the file the error must name)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    rand = tmp_path / "random"
    rand.mkdir()
    (rand / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(5000))
    text = tmp_path / "text"
    text.mkdir()
    (text / "model.safetensors").write_text("these are not the weights you are looking for\n")
    (text / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (text / "README.md").write_text("# a model\n")
    return {
        "empty": (empty, "empty"),
        "random": (rand, "model.safetensors"),
        "random-file": (rand / "model.safetensors", "model.safetensors"),
        "text": (text, "model.safetensors"),
    }


def test_open_and_scan_refuse_nothing_readable(tmp_path):
    for name, (path, named) in _cases(tmp_path).items():
        with pytest.raises(ArtifactError) as a:
            open_artifact(path)
        assert named in str(a.value), name
        with pytest.raises(ScanError) as s:
            scan_paths([path])
        assert named in str(s.value) and "\n" not in str(s.value), name


def test_cli_inspect_and_scan_exit_2_with_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    for name, (path, named) in _cases(tmp_path).items():
        for cmd in ("inspect", "scan"):
            r = subprocess.run(
                [*WW, cmd, str(path)], capture_output=True, text=True, timeout=120, env=env
            )
            assert r.returncode == 2, (name, cmd, r.stdout, r.stderr)
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and named in lines[0], (name, cmd, r.stderr)
            assert "Traceback" not in r.stderr and "clean" not in r.stdout


def test_check_weights_says_declared_but_not_inspectable(tmp_path):
    cases = _cases(tmp_path)
    empty = check_weights(cases["empty"][0])
    assert not empty.declares_model and not empty.inspectable
    text = check_weights(cases["text"][0])
    assert text.declares_model and not text.inspectable
    assert text.reason is not None
    assert text.reason.startswith("weights not inspectable: model.safetensors: ")
    assert any("LlamaForCausalLM" in e for e in text.evidence)
    rand = check_weights(cases["random"][0])
    assert rand.declares_model and not rand.inspectable and "model.safetensors" in str(rand.reason)
    # a config and a tokenizer with no weight file at all: declared, nothing to see
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (bare / "tokenizer.json").write_text("{}")
    st = check_weights(bare)
    assert st.declares_model and not st.inspectable and "no weight file" in str(st.reason)
    # a folder with no model at all
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("shopping list\n")
    st = check_weights(notes)
    assert not st.declares_model and not st.inspectable


def test_check_weights_sees_real_and_wrapped_weights(tmp_path, llama_family):
    import gzip

    base = Path(llama_family.base)
    st = check_weights(base)
    assert st.declares_model and st.inspectable and st.reason is None and st.tensor_count > 0
    d = tmp_path / "gz"
    shutil.copytree(base, d, ignore=shutil.ignore_patterns("model.safetensors"))
    (d / "model.safetensors.gz").write_bytes(
        gzip.compress((base / "model.safetensors").read_bytes())
    )
    assert check_weights(d).inspectable


def test_onnx_initializers_are_weights(tmp_path, llama_family):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    base = Path(llama_family.base)
    weights = load_file(str(base / "model.safetensors"))
    inits = [numpy_helper.from_array(v, name=k) for k, v in weights.items()]
    x = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 8])
    y = helper.make_tensor_value_info("h", TensorProto.FLOAT, None)
    node = helper.make_node("Gather", ["model.embed_tokens.weight", "input_ids"], ["h"])
    graph = helper.make_graph([node], "tiny", [x], [y], initializer=inits)
    d = tmp_path / "onnx"
    shutil.copytree(base, d, ignore=shutil.ignore_patterns("model.safetensors"))
    onnx.save(helper.make_model(graph, producer_name="pytorch"), str(d / "model.onnx"))
    art = open_artifact(d)
    assert art.primary_files == ("model.onnx",)
    got = {t.name: t.to_float32() for t in art.iter_tensors()}
    for k, v in weights.items():
        np.testing.assert_array_equal(got[k], v)
    assert compare(fingerprint(base), fingerprint(art)).relation == "identical"
    # external data is reported, never followed
    t = numpy_helper.from_array(np.ones((2, 2), np.float32), name="w")
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    ext = helper.make_model(helper.make_graph([], "g", [], [], initializer=[t]))
    onnx.save(ext, str(tmp_path / "ext.onnx"))
    with pytest.raises(ArtifactError, match="external data"):
        list(open_artifact(tmp_path / "ext.onnx").iter_tensors())


def test_keras_h5_and_npz_weights_are_seen(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "model.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("model_weights/dense/dense")
        g["kernel:0"] = np.arange(12, dtype=np.float32).reshape(4, 3)
        g["bias:0"] = np.zeros(3, np.float32)
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {}})
    art = open_artifact(p)
    got = {t.name: t.to_float32() for t in art.iter_tensors()}
    np.testing.assert_array_equal(
        got["model_weights.dense.dense.kernel:0"], np.arange(12).reshape(4, 3)
    )
    assert art.totals.parameter_count == 15
    # a Keras v3 archive (.keras: a zip with config.json and model.weights.h5)
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
        z.write(p, "model.weights.h5")
    assert open_artifact(tmp_path / "m.keras").totals.parameter_count == 15
    np.savez(tmp_path / "w.npz", a=np.ones((3, 3), np.float32))
    assert open_artifact(tmp_path / "w.npz").totals.parameter_count == 9
