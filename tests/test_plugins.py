"""The one plugin registry: names, duplicates, lookup errors, discovery; and its four users."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from weightwatch.audit.attacks import Direct
from weightwatch.audit.attacks import registry as attacks
from weightwatch.audit.judges import LLMJudge, RefusalJudge
from weightwatch.audit.judges import registry as judges
from weightwatch.audit.options import open_judge
from weightwatch.errors import UsageError
from weightwatch.plugins import Registry
from weightwatch.scan.findings import FileReport, Location, ScanReport, Severity
from weightwatch.scan.rules import PICKLE_DANGEROUS, RULES, Rule, rule
from weightwatch.scan.sarif import to_sarif
from weightwatch.watermark import KGW, get_scheme
from weightwatch.watermark import registry as schemes


@dataclass(frozen=True)
class Tool:
    name: str


def tools() -> Registry[Tool]:
    return Registry("tool", key=lambda t: t.name, export="TOOLS")


def test_register_and_look_up_by_name() -> None:
    reg = tools()
    hammer = reg.register(Tool("hammer"))
    assert reg.lookup("hammer") is hammer and reg["hammer"] is hammer
    assert "hammer" in reg and "saw" not in reg and len(reg) == 1
    assert list(reg) == ["hammer"] and reg.names() == ["hammer"]


def test_register_is_a_decorator_and_takes_an_explicit_name() -> None:
    reg: Registry[type[object]] = Registry("shape", key=lambda cls: cls.__name__.lower())

    @reg.register
    class Circle:
        pass

    reg.register(Circle, name="round")
    assert reg.lookup("circle") is Circle and reg.lookup("round") is Circle


def test_a_taken_name_is_refused_but_the_same_plugin_twice_is_fine() -> None:
    reg = tools()
    first = reg.register(Tool("hammer"))
    reg.register(first)
    with pytest.raises(UsageError, match="two tools are named 'hammer'") as err:
        reg.register(Tool("hammer"))
    assert err.value.hint and "stable ids" in err.value.hint
    assert reg.lookup("hammer") is first


def test_an_unknown_name_lists_the_known_ones() -> None:
    reg = tools()
    reg.register(Tool("saw"))
    reg.register(Tool("hammer"))
    with pytest.raises(UsageError, match="unknown tool 'drill'") as err:
        reg.lookup("drill")
    assert err.value.hint == "known tools: hammer, saw"
    with pytest.raises(KeyError):
        reg["drill"]  # indexing keeps the mapping contract
    assert reg.get("drill") is None


def test_discovery_registers_what_each_module_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "toolbox_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hammer.py").write_text(
        "from tests.test_plugins import Tool\nTOOLS = (Tool('hammer'),)\n"
    )
    (package / "saw.py").write_text("from tests.test_plugins import Tool\nTOOLS = (Tool('saw'),)\n")
    (package / "helpers.py").write_text("X = 1\n")  # exports nothing: not a plugin
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        reg = tools()
        reg.discover("toolbox_plugins")
        assert reg.names() == ["hammer", "saw"]
        reg.discover("toolbox_plugins")  # again: the same objects, nothing refused
        assert reg.names() == ["hammer", "saw"]
        (package / "saw2.py").write_text(
            "from tests.test_plugins import Tool\nTOOLS = (Tool('saw'),)\n"
        )
        with pytest.raises(UsageError, match="two tools are named 'saw'"):
            tools().discover("toolbox_plugins")
    finally:
        for name in [m for m in sys.modules if m.startswith("toolbox_plugins")]:
            del sys.modules[name]


def test_discovery_needs_a_package_and_an_export_name() -> None:
    with pytest.raises(UsageError, match="not a package"):
        tools().discover("weightwatch.errors")
    with pytest.raises(UsageError, match="discovers nothing"):
        Registry("rule", key=str).discover("weightwatch.scan")


# -- the registries that use it ---------------------------------------------------------


def test_attacks_judges_and_schemes_are_discovered_from_their_packages() -> None:
    assert attacks().lookup("direct") is Direct
    assert set(judges()) == {"refusal", "llm", "ensemble"}
    assert schemes().lookup("kgw") is KGW
    with pytest.raises(UsageError, match="unknown attack 'nope'") as err:
        attacks().lookup("nope")
    assert err.value.hint is not None and "many_shot" in err.value.hint
    with pytest.raises(UsageError, match="unknown watermark scheme 'nope'"):
        get_scheme("nope")


def test_scanner_rules_refuse_a_taken_id_and_feed_sarif() -> None:
    assert RULES.lookup("WW-PICKLE-001") is PICKLE_DANGEROUS
    assert isinstance(RULES["WW-FILE-001"], Rule)
    with pytest.raises(UsageError, match="two scanner rules are named 'WW-PICKLE-001'"):
        rule("WW-PICKLE-001", Severity.LOW, "again", "no")
    with pytest.raises(UsageError, match="unknown scanner rule 'WW-NOPE'"):
        RULES.lookup("WW-NOPE")
    found = PICKLE_DANGEROUS.finding(Location(file="x.pkl"), "calls os.system")
    report = ScanReport(files=[FileReport(path="x.pkl", format="pickle", findings=[found])])
    (described,) = to_sarif(report)["runs"][0]["tool"]["driver"]["rules"]
    assert described["help"]["text"] == PICKLE_DANGEROUS.remediation


def test_open_judge_resolves_names_through_the_registry() -> None:
    assert isinstance(open_judge("refusal"), RefusalJudge)
    assert isinstance(open_judge("keyword"), RefusalJudge)  # the CLI's default, an alias
    llm = open_judge("http://127.0.0.1:9/v1", model="m")
    assert isinstance(llm, LLMJudge)
    with pytest.raises(UsageError, match="needs a model name"):
        open_judge("http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="needs an endpoint"):
        open_judge("llm")
    with pytest.raises(UsageError, match="unknown judge 'vibes'") as err:
        open_judge("vibes")
    assert err.value.hint == "known judges: ensemble, llm, refusal"
