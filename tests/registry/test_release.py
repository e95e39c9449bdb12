"""A reviewer's release of a quarantined version, on SQLite and on PostgreSQL: what it
overrides (only the quarantine reasons it examined), what it never overrides (blocks,
gates), how later decisions treat it, and that it is logged like any decision."""

from __future__ import annotations

import shutil

import pytest

from tests.registry.conftest import STRIPPED, with_card
from tests.registry.test_registry import _every_decision_logged, _proof_ok
from weightwatch.errors import RegistryError, UsageError
from weightwatch.testing.pickle_bytes import call, torch_zip

pytestmark = pytest.mark.slow


def _rules(lines: list[str], prefix: str = "") -> set[str]:
    """The rule ids of the reason lines that start with ``prefix`` ("" for active ones)."""
    out = set()
    for line in lines:
        if line.endswith("]") and (line.startswith(prefix) if prefix else ":" in line):
            if not prefix and line.startswith(("released", "warning: ")):
                continue
            out.add(line.rsplit("[", 1)[1][:-1])
    return out


def _releases(registry, ref):  # type: ignore[no-untyped-def]
    return [
        (m.actor, m.reason, m.log_index)
        for m in registry.status(ref).moderation
        if m.action == "release"
    ]


def test_release_overrides_only_the_quarantine_it_examined(registry, llama_family, tmp_path):
    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    assert registry.register(ft, "org/ft").status == "published"
    registry.takedown("org/base@1", reason="weights leaked")
    held = registry.status("org/ft")
    assert held.status == "quarantined" and "parent-withdrawn" in _rules(held.decision.reasons)

    with pytest.raises(UsageError, match="reason"):
        registry.release("org/ft@1", reason="  ", actor="rita")
    out = registry.release("org/ft@1", reason="trained independently; verified", actor="rita")
    assert out.status == "published"  # the tier it asked for
    d = out.decision
    assert d.cause == "release by rita" and d.action == "publish"
    assert "released by rita: trained independently; verified" in d.reasons
    assert _rules(d.reasons, "released: ") == {"parent-withdrawn"}
    assert "parent-withdrawn" not in _rules(d.reasons)
    [(actor, why, released)] = _releases(registry, "org/ft@1")
    assert (actor, why, released) == (
        "rita",
        "trained independently; verified",
        held.decision.log_index,
    )
    _proof_ok(registry, "org/ft@1")
    with pytest.raises(RegistryError, match="not quarantined"):
        registry.release("org/ft@1", reason="again", actor="rita")

    # a NEW cause (an audit finding its safety stripped) quarantines it again; the
    # released cause stays released
    audited = registry.add_audit("org/ft", STRIPPED)
    assert audited.status == "quarantined"
    assert _rules(audited.decision.reasons) == {"audit-safety-stripped"}
    assert _rules(audited.decision.reasons, "released: ") == {"parent-withdrawn"}
    again = registry.release("org/ft@1", reason="audit was on the wrong prompts", actor="sam")
    assert again.status == "published" and again.decision.cause == "release by sam"
    assert _rules(again.decision.reasons, "released: ") == {
        "parent-withdrawn",
        "audit-safety-stripped",
    }
    assert "released by sam: audit was on the wrong prompts" in again.decision.reasons

    # a released cause that goes away (the base is reinstated) and comes back (taken down
    # again, perhaps for another reason) is a new cause: the version is quarantined again
    registry.reinstate("org/base@1", reason="licence settled")
    calm = registry.status("org/ft")
    assert calm.status == "published"
    assert _rules(calm.decision.reasons, "released: ") == {"audit-safety-stripped"}
    registry.takedown("org/base@1", reason="poisoned weights found")
    back = registry.status("org/ft")
    assert back.status == "quarantined" and back.decision.cause == "takedown of org/base@1"
    assert _rules(back.decision.reasons) == {"parent-withdrawn"}
    assert _rules(back.decision.reasons, "released: ") == {"audit-safety-stripped"}

    for ref in ("org/base", "org/ft"):
        _proof_ok(registry, ref)
    _every_decision_logged(registry)


def test_release_keeps_gates_and_the_requested_tier(registry, llama_family, tmp_path):
    registry.register(llama_family.base, "org/base")
    silent = with_card(llama_family.finetune, tmp_path / "s", base_model=None, relation=None)
    registry.register(silent, "org/silent")  # undeclared lineage: gated
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/partners", access="restricted")
    registry.takedown("org/base@1", reason="withdrawn")
    assert registry.status("org/silent").status == "quarantined"
    assert registry.status("org/partners").status == "quarantined"

    s = registry.release("org/silent", reason="reviewed", actor="rita")
    assert s.status == "gated"  # the undeclared-lineage gate is not the reviewer's to lift
    assert "lineage-undeclared" in _rules(s.decision.reasons)
    p = registry.release("org/partners", reason="reviewed", actor="rita")
    assert p.status == "restricted"


def test_blocks_cannot_be_released(registry, llama_family, tmp_path):
    registry.register(llama_family.base, "org/base")
    evil = with_card(
        llama_family.finetune, tmp_path / "evil", base_model="org/base", relation="finetune"
    )
    (evil / "pytorch_model.bin").write_bytes(torch_zip(call("os", "system", "echo pwned")))
    assert registry.register(evil, "mallory/ft").status == "blocked"
    registry.takedown("org/base@1", reason="withdrawn")
    blocked = registry.status("mallory/ft")
    assert blocked.status == "blocked"  # quarantine reasons too, but the block wins
    with pytest.raises(RegistryError, match="not quarantined") as exc:
        registry.release("mallory/ft", reason="looks fine to me", actor="rita")
    assert "block" in exc.value.diagnostics()
    with pytest.raises(RegistryError, match="not quarantined"):
        registry.release("org/base@1", reason="use reinstate", actor="rita")  # taken down
    assert _releases(registry, "mallory/ft") == []


def test_release_re_decides_descendants(registry, llama_family, tmp_path):
    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/ft")
    grand = tmp_path / "grand"
    shutil.copytree(with_card(ft, tmp_path / "g0", base_model="org/ft", relation="finetune"), grand)
    registry.register(grand, "org/grand")
    registry.takedown("org/base@1", reason="withdrawn")
    before = registry.status("org/grand")
    assert before.status == "quarantined"
    assert any("org/ft@1, which is quarantined" in r for r in before.decision.reasons)

    registry.release("org/ft@1", reason="independent", actor="rita")
    after = registry.status("org/grand")
    assert after.decision.cause == "release of org/ft@1"
    assert not any("org/ft@1, which is quarantined" in r for r in after.decision.reasons)
    # what the grandchild derives from directly, besides org/ft, still counts
    still = {p.model for p in after.parents} - {"org/ft@1"}
    assert (after.status == "quarantined") == ("org/base@1" in still)


def test_long_names_are_kept_whole_in_causes(registry, llama_family, tmp_path):
    long_ns, long_name = "n" * 100, "m" * 200  # the longest names the registry accepts
    base = f"{long_ns}/{long_name}"
    registry.register(llama_family.base, base)
    ft = with_card(llama_family.finetune, tmp_path / "ft", base_model=base, relation="finetune")
    registry.register(ft, "org/ft")
    down = registry.takedown(f"{base}@1", reason="withdrawn")
    assert down.status == "taken_down"
    child = registry.status("org/ft")
    assert child.status == "quarantined" and child.decision.cause == f"takedown of {base}@1"
    actor = "a-reviewer-with-a-rather-long-account-name-" + "x" * 50
    out = registry.release("org/ft", reason="reviewed", actor=actor)
    assert out.decision.cause == f"release by {actor}"
    assert f"released by {actor}: reviewed" in out.decision.reasons


def test_cli_release(registry, llama_family, tmp_path, capsys):  # type: ignore[no-untyped-def]
    from weightwatch.cli import main

    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/ft")
    where = [
        "--registry",
        str(registry.store.root),
        "--db-url",
        registry.store.engine.url.render_as_string(hide_password=False),
    ]
    assert main(["takedown", "org/base@1", "--reason", "withdrawn", *where]) == 0
    capsys.readouterr()
    assert main(["release", "org/ft@1", "--reason", "independent", "--actor", "rita", *where]) == 0
    assert "published" in capsys.readouterr().out
    assert registry.status("org/ft").decision.cause == "release by rita"
    assert main(["release", "org/ft@1", "--reason", "again", *where]) == 2
    assert "not quarantined" in capsys.readouterr().err
    assert registry.status("org/ft").status == "published"
