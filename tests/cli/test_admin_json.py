"""The registry's admin commands speak JSON too (the CLI convention: --json on every
command that reports)."""

from __future__ import annotations

import json

from weightwatch.cli import main


def test_admin_commands_print_json(tmp_path, capsys):  # type: ignore[no-untyped-def]
    reg = ["--registry", str(tmp_path / "reg")]
    assert main(["registry", "init", *reg, "--json"]) == 0
    capsys.readouterr()
    args = ["registry", "user", "alice", "--role", "publisher", "--org", "acme"]
    assert main([*args, "--json", *reg]) == 0
    user = json.loads(capsys.readouterr().out)
    assert (user["user"], user["role"], user["orgs"]) == ("alice", "publisher", ["acme"])
    assert len(user["password"]) >= 12  # shown once, as without --json
    assert main(["registry", "namespace", "acme", "--org", "acme", "--json", *reg]) == 0
    assert json.loads(capsys.readouterr().out) == {"namespace": "acme", "org": "acme"}
    assert main(["registry", "token", "--user", "alice", "--json", *reg]) == 0
    token = json.loads(capsys.readouterr().out)
    assert token["user"] == "alice" and token["token"].startswith("ww_")
