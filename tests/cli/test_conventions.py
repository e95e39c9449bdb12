"""The CLI convention (docs/cli.md), checked on every command by walking the app."""

from __future__ import annotations

import subprocess
import sys

import pytest

from weightwatch.cli import COMMANDS, build_app, main
from weightwatch.cli.app import EXIT_CODES
from weightwatch.cli.lazy import load_module_commands

# Commands that print no report a program would read: they only start a service.
NO_REPORT = {"serve", "witness serve"}


def _leaves() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, (module, _) in COMMANDS.items():
        cmd = load_module_commands(module).commands[name]
        subs = getattr(cmd, "commands", None)
        if subs:
            out += [(f"{name} {s}", c) for s, c in subs.items()]
        else:
            out.append((name, cmd))
    return out


LEAVES = _leaves()


def test_summary_table_matches_the_commands() -> None:
    for name, (module, summary) in COMMANDS.items():
        assert name in load_module_commands(module).commands, name
        assert len(summary) <= 64 and summary.endswith("."), summary


@pytest.mark.parametrize("path", [p for p, _ in LEAVES])
def test_every_command_follows_the_convention(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path.split(), "-h"]) == 0
    text = capsys.readouterr().out
    for line in text.splitlines():
        assert len(line) <= 80, f"{path}: {line!r}"
        assert line == line.rstrip(), f"{path}: trailing spaces in {line!r}"
    assert "<bool>" not in text and "<path>" not in text and "{" not in text.split("\n")[0]
    cmd = dict(LEAVES)[path]
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}  # type: ignore[attr-defined]
    if path not in NO_REPORT:
        assert "--json" in opts, f"{path} reports but has no --json"
    assert "--out" not in opts or "--output" in opts, f"{path}: use -o/--output"
    assert "-h" in text
    for p in cmd.params:  # type: ignore[attr-defined]
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False):
            if p.default is not None and not p.required:
                assert p.show_default is not False, f"{path} {p.name} hides its default"
            assert p.help, f"{path} {p.name} has no help"


def test_exit_code_table_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} |" in doc, (code, meaning)


def test_help_and_version_import_no_command(tmp_path: object) -> None:
    code = (
        "import sys; from weightwatch.cli import main; rc = main(['--help']); "
        "rc |= main(['--version']); "
        "bad = [m for m in sys.modules if m.startswith('weightwatch.cli.') and "
        "m.endswith('_cmd')] + [m for m in ('sqlalchemy', 'numpy', 'scipy') if m in sys.modules]; "
        "print(bad); sys.exit(rc or bool(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "--nosuch"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_build_app_lists_every_command() -> None:
    app = build_app()
    assert list(app.list_commands(None)) == list(COMMANDS)  # type: ignore[arg-type]
