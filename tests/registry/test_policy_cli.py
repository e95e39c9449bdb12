"""``weightwatch policy check``: the decision for a local folder, without a registry."""

from __future__ import annotations

import json

import pytest

from weightwatch.cli import main

pytestmark = pytest.mark.slow


def test_policy_check_exit_codes_and_json(llama_family, tmp_path, capsys):
    assert main(["policy", "check", str(llama_family.base)]) == 0
    assert "publish" in capsys.readouterr().out
    idx = tmp_path / "idx"
    assert (
        main(["fingerprint", str(llama_family.base), "--add-to", str(idx), "--name", "org/base"])
        == 0
    )
    capsys.readouterr()
    assert main(["policy", "check", str(llama_family.finetune), "--index", str(idx), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["decision"]["action"] == "gate"
    assert {r["rule_id"] for r in doc["decision"]["reasons"]} >= {"lineage-undeclared"}
    assert doc["facts"]["lineage"]["undeclared"] == ["org/base"]
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        'id: mine\nversion: "1"\nrules:\n  - id: r\n'
        "    when: {fact: scan.verdikt, eq: clean}\n    action: gate\n    reason: x\n"
    )
    assert main(["policy", "check", str(llama_family.base), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "policy.yaml" in err and "verdikt" in err and "Traceback" not in err
