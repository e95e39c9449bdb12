"""The registry owns its rules: one visibility decision, moderation logged whoever calls,
``status`` and ``registry proof`` that lead with the current state (issue #16's bugs)."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import load_verifier
from weightwatch.cli import main
from weightwatch.registry import accounts
from weightwatch.registry.access import Principal
from weightwatch.registry.states import Role, Status
from weightwatch.registry.visibility import Refusal, Sight, visibility

pytestmark = pytest.mark.slow


def _db(registry):  # type: ignore[no-untyped-def]
    """The CLI options that open the fixture's registry database (SQLite or PostgreSQL)."""
    return ["--db-url", registry.store.engine.url.render_as_string(hide_password=False)]


def _events(registry, action):  # type: ignore[no-untyped-def]
    return [e for e in accounts.events(registry.store) if e.action == action]


def test_cli_takedown_is_in_the_action_log_and_status_leads_with_it(registry, llama_family, capsys):
    """Bug: the CLI's takedown left no action-log row, and ``status`` still led with the
    registration decision, without the takedown, its reason, actor or time."""
    registry.register(llama_family.base, "org/base")
    root = str(registry.store.root)
    db = _db(registry)
    args = ["takedown", "org/base@1", "--reason", "licence breach", "--actor", "rita"]
    assert main([*args, "--registry", root, *db]) == 0
    capsys.readouterr()
    (event,) = _events(registry, "model.takedown")
    assert (event.actor, event.target, event.detail["reason"]) == (
        "rita",
        "org/base@1",
        "licence breach",
    )

    assert main(["status", "org/base", "--registry", root, *db]) == 0
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert lines[1].startswith("status") and "taken_down" in lines[1]
    assert "taken down by rita" in lines[2] and "licence breach" in lines[2]
    assert "history" in out and "registration: publish" in out

    assert main(["status", "org/base", "--json", "--registry", root, *db]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "taken_down"
    (m,) = doc["moderation"]
    assert (m["action"], m["actor"], m["reason"]) == ("takedown", "rita", "licence breach")
    assert m["log_index"] > doc["decision"]["log_index"] and m["created_at"]

    registry.reinstate("org/base@1", reason="resolved", actor="rita")
    assert [e.actor for e in _events(registry, "model.reinstate")] == ["rita"]


def test_proof_exports_the_latest_logged_event(registry, llama_family, tmp_path, capsys):
    """Bug: ``registry proof`` exported the registration entry after a takedown."""
    registry.register(llama_family.base, "org/base")
    registry.takedown("org/base@1", reason="withdrawn by the publisher", actor="pat")
    root = str(registry.store.root)
    db = _db(registry)
    out = tmp_path / "proof"
    assert main(["registry", "proof", "org/base@1", "-o", str(out), "--registry", root, *db]) == 0
    leaf = json.loads((out / "entry.json").read_text())
    assert leaf["kind"] == "takedown"
    assert leaf["body"]["reason"] == "withdrawn by the publisher"
    proof = json.loads((out / "proof.json").read_text())
    pub = load_verifier(out / "log.pub")
    verify_entry_offline(
        (out / "entry.json").read_bytes(),
        proof["index"],
        [bytes.fromhex(h) for h in proof["hashes"]],
        (out / "checkpoint.txt").read_text(),
        pub,
    )


class _Version(NamedTuple):
    model_id: int
    status: str


def test_one_visibility_decision_for_every_role_and_status(registry, llama_family):
    """The whole matrix in one place: what each role sees of each status, and how the
    API, the Hub routes and the pages read that one decision."""
    registry.register(llama_family.base, "org/base")
    mid = registry.model_id("org/base")
    assert mid is not None
    people = {
        "anonymous": None,
        "user": Principal("alice", Role.USER),
        "owner": Principal("org", Role.PUBLISHER),
        "auditor": Principal("audrey", Role.AUDITOR),
        "reviewer": Principal("rita", Role.REVIEWER),
    }
    hidden, record, contents = Sight.HIDDEN, Sight.RECORD, Sight.CONTENTS
    gated, nf, disabled = Refusal.GATED, Refusal.NOT_FOUND, Refusal.DISABLED
    expected = {  # status -> person -> (sight, refusal, page)
        Status.PUBLISHED: {p: (contents, None, "full") for p in people},
        Status.GATED: {
            "anonymous": (contents, gated, "gated"),
            "user": (contents, gated, "gated"),
            "owner": (contents, None, "full"),
            "auditor": (contents, gated, "gated"),
            "reviewer": (contents, None, "full"),
        },
        Status.RESTRICTED: {
            "anonymous": (hidden, nf, "hidden"),
            "user": (hidden, nf, "hidden"),
            "owner": (contents, None, "full"),
            "auditor": (contents, nf, "audit"),
            "reviewer": (contents, None, "full"),
        },
        Status.QUARANTINED: {
            "anonymous": (hidden, nf, "hidden"),
            "user": (hidden, nf, "hidden"),
            "owner": (hidden, nf, "hidden"),
            "auditor": (contents, nf, "audit"),
            "reviewer": (contents, None, "full"),
        },
        Status.TAKEN_DOWN: {
            "anonymous": (record, disabled, "down"),
            "user": (record, disabled, "down"),
            "owner": (record, disabled, "down"),
            "auditor": (contents, disabled, "down"),
            "reviewer": (contents, disabled, "down"),
        },
        Status.BLOCKED: {
            "anonymous": (hidden, disabled, "hidden"),
            "user": (hidden, disabled, "hidden"),
            "owner": (hidden, disabled, "hidden"),
            "auditor": (contents, disabled, "down"),
            "reviewer": (contents, disabled, "down"),
        },
    }
    for status, row in expected.items():
        for person, (sight, refusal, page) in row.items():
            v = visibility(registry.store, people[person], _Version(mid, status))
            assert (v.sight, v.refusal, v.page) == (sight, refusal, page), (status, person)
            assert v.exists == (sight is not hidden)
            assert v.listed == (refusal in (None, gated))  # Hub: gated repos are listed
