"""Accounts, sessions, gates and tiered access, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import shutil
from typing import NamedTuple

import pytest

from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry import accounts
from weightwatch.registry.access import (
    access_report,
    authenticate,
    create_token,
    grants,
    may_manage,
    principal_for,
    request_access,
    revoke_tokens,
    set_grant,
    set_model_access,
)
from weightwatch.registry.gates import Gate, GateField, check_answers, eu_refusal, gate_from_card
from weightwatch.registry.visibility import visibility

CARD = """---
license: apache-2.0
extra_gated_prompt: Research use only.
extra_gated_fields:
  Name: text
  Country: country
  Born: date_picker
  Use:
    type: select
    options: [Research, Other]
  I agree: checkbox
extra_gated_eu_disallowed: true
---
# gated
"""
GOOD = {
    "Name": "Ann",
    "Country": "United States",
    "Born": "1990-01-02",
    "Use": "Research",
    "I agree": True,
}


class _Version(NamedTuple):
    model_id: int
    status: str


def may_read(store, who, model_id, status):
    """The download refusal of the one visibility decision (None: may download)."""
    return visibility(store, who, _Version(model_id, status)).refusal


def test_gate_vocabulary_and_form_checks() -> None:
    gate = gate_from_card(
        {
            "extra_gated_fields": {
                "Name": "text",
                "Use": {"type": "select", "options": ["A", "B"]},
                "Ok": "checkbox",
            },
            "extra_gated_prompt": "Hi",
        }
    )
    assert [f.type for f in gate.fields] == ["text", "select", "checkbox"]
    assert gate.prompt == "Hi" and not gate.eu_disallowed
    with pytest.raises(UsageError, match="'Spin' has type 'wheel'"):
        gate_from_card({"extra_gated_fields": {"Spin": "wheel"}})
    with pytest.raises(UsageError, match="no options"):
        gate_from_card({"extra_gated_fields": {"Use": {"type": "select"}}})
    g = Gate(
        fields=[
            GateField(label="C", type="country"),
            GateField(label="D", type="date_picker"),
            GateField(label="X", type="checkbox"),
        ],
        eu_disallowed=True,
    )
    assert check_answers(g, {"C": "france", "D": "2024-02-29", "X": "on"}) == {
        "C": "FR",
        "D": "2024-02-29",
        "X": True,
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"C": "Atlantis", "D": "2024-01-01", "X": True}, "unknown country"),
        ({"C": "FR", "D": "yesterday", "X": True}, "must be a date"),
        ({"C": "FR", "D": "2024-01-01"}, "must be checked"),
        ({"C": "FR", "D": "2024-01-01", "X": True, "Sneaky": "1"}, "unknown gate field"),
        ({"C": " ", "D": "2024-01-01", "X": True}, "'C' is required"),
    ]
    for bad, match in cases:
        with pytest.raises(UsageError, match=match):
            check_answers(g, bad)
    assert "EU" in (eu_refusal(g, {"C": "FR"}, None) or "")
    assert eu_refusal(g, {"C": "US"}, None) is None
    assert eu_refusal(g, {}, "DE") is not None  # the account's declared country counts too


def test_passwords_sessions_and_tokens(registry):  # type: ignore[no-untyped-def]
    store = registry.store
    u = accounts.create_user(store, "ann", "correct horse", role="publisher", orgs=("acme",))
    assert u.orgs == ("acme",) and u.role == "publisher"
    with pytest.raises(UsageError, match="already exists"):
        accounts.create_user(store, "ann", "another one")
    with pytest.raises(UsageError, match="at least 8"):
        accounts.create_user(store, "bo", "short")
    with pytest.raises(UsageError, match="user name"):
        accounts.create_user(store, "Bad Name", "long enough")
    with pytest.raises(AccessDenied, match="wrong user name or password"):
        accounts.login(store, "ann", "wrong horse")
    with pytest.raises(AccessDenied, match="wrong user name or password"):
        accounts.login(store, "nobody", "correct horse")
    cookie = accounts.login(store, "ann", "correct horse", client="10.0.0.1")
    s = accounts.session(store, cookie)
    assert s is not None and s.user == "ann" and len(s.csrf) > 20
    accounts.logout(store, cookie)
    assert accounts.session(store, cookie) is None
    logged = [(e.action, e.target) for e in accounts.events(store)]
    assert logged[:3] == [("login", "ann"), ("login.failed", "nobody"), ("login.failed", "ann")]
    # password guessing: after MAX_FAILURES failures even the right password is refused
    for _ in range(accounts.MAX_FAILURES - 1):
        with pytest.raises(AccessDenied):
            accounts.login(store, "ann", "guess")
    with pytest.raises(AccessDenied, match="too many failed sign-ins"):
        accounts.login(store, "ann", "correct horse")
    # only hashes are stored
    from sqlalchemy import select

    from weightwatch.registry import schema

    token = create_token(store, "ann")
    with store.engine.connect() as conn:
        stored = [
            str(v)
            for t in (schema.tokens, schema.sessions, schema.users)
            for row in conn.execute(select(t))
            for v in row
        ]
    assert not any(token in v or "correct horse" in v or cookie in v for v in stored)
    who = authenticate(store, token)
    assert who is not None and who.role == "publisher" and who.orgs == ("acme",)
    accounts.set_role(store, "ann", "reviewer")  # an account's role applies at once
    assert authenticate(store, token).role == "reviewer"  # type: ignore[union-attr]
    assert revoke_tokens(store, "ann") == 1
    with pytest.raises(AccessDenied):
        authenticate(store, token)


def test_tiers_requests_and_report(registry, llama_family, tmp_path):  # type: ignore[no-untyped-def]
    store = registry.store
    gated = tmp_path / "gated"
    shutil.copytree(llama_family.base, gated)
    (gated / "README.md").write_text(CARD)
    registry.register(gated, "acme/gated", access="gated")
    registry.register(llama_family.int8, "acme/secret", access="restricted")
    accounts.set_namespace_owner(store, "acme", "acme")
    set_model_access(store, "acme/secret", allowed_orgs=["partner"])
    accounts.create_user(store, "owner", "password1", role="publisher", orgs=("acme",))
    accounts.create_user(store, "partner", "password1", orgs=("partner",))
    accounts.create_user(store, "eve", "password1", country="DE")
    accounts.create_user(store, "us", "password1", country="US")
    accounts.create_user(store, "rev", "password1", role="reviewer")
    p = {n: principal_for(store, n) for n in ("owner", "partner", "eve", "us", "rev")}
    gv, sv = registry.status("acme/gated"), registry.status("acme/secret")
    assert (gv.status, sv.status) == ("gated", "restricted")
    from weightwatch.registry.access import _model_id

    g_id, s_id = _model_id(store, "acme/gated"), _model_id(store, "acme/secret")
    assert may_read(store, None, g_id, "gated") == "GatedRepo"
    assert may_read(store, p["us"], g_id, "gated") == "GatedRepo"
    assert may_read(store, p["owner"], g_id, "gated") is None
    assert may_read(store, p["rev"], g_id, "gated") is None
    assert may_read(store, None, s_id, "restricted") == "RepoNotFound"
    assert may_read(store, p["us"], s_id, "restricted") == "RepoNotFound"
    assert may_read(store, p["partner"], s_id, "restricted") is None
    assert may_read(store, p["owner"], s_id, "restricted") is None
    assert may_read(store, p["rev"], s_id, "taken_down") == "Disabled"
    assert may_read(store, p["owner"], s_id, "quarantined") == "RepoNotFound"
    assert may_manage(store, p["owner"], g_id) and not may_manage(store, p["us"], g_id)

    with pytest.raises(UsageError, match="must be checked"):
        request_access(store, "acme/gated", p["us"], {**GOOD, "I agree": False})
    g = request_access(store, "acme/gated", p["us"], GOOD)
    assert (g.state, g.answers["Country"]) == ("pending", "US")
    eu = request_access(store, "acme/gated", p["eve"], {**GOOD, "Country": "US"})
    assert eu.state == "rejected" and "extra_gated_eu_disallowed" in (eu.reason or "")
    with pytest.raises(UsageError, match="needs a reason"):
        set_grant(store, "acme/gated", "us", "rejected")
    set_grant(store, "acme/gated", "us", "accepted", actor="owner")
    assert may_read(store, p["us"], g_id, "gated") is None
    assert [x.user for x in grants(store, "acme/gated", state="pending")] == []
    set_model_access(store, "acme/gated", gate_mode="auto")
    accounts.create_user(store, "auto", "password1")
    assert request_access(store, "acme/gated", principal_for(store, "auto"), GOOD).state == (
        "accepted"
    )
    report = access_report(store, "acme/gated").splitlines()
    assert report[0].startswith("user,state,reason,decided_by") and "Country" in report[0]
    assert any(r.startswith("us,accepted,,owner") for r in report)
    assert any(r.startswith("eve,rejected") for r in report)
    actions = [e.action for e in accounts.events(store)]
    assert {"access.request", "access.accepted"} <= set(actions)


def test_audit_trails_are_append_only_in_the_database(registry, llama_family):  # type: ignore[no-untyped-def]
    from sqlalchemy import delete, select, text, update
    from sqlalchemy.exc import DBAPIError

    from weightwatch.registry import schema
    from weightwatch.registry.access import log_download

    store = registry.store
    registry.register(llama_family.base, "org/base")
    vid = registry.version_id("org/base")
    log_download(store, None, vid, "config.json", "127.0.0.1", "served")
    accounts.record(store, "ann", "test.action", "x")
    for stmt in (
        update(schema.events).values(actor="mallory"),
        delete(schema.events),
        delete(schema.downloads),
        update(schema.downloads).values(user="mallory"),
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.write.begin() as conn:
            conn.execute(stmt)
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), store.write.begin() as conn:
            conn.execute(text("TRUNCATE events"))
    assert [e.actor for e in accounts.events(store)] == ["ann"]
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.downloads.c.user)).all() == [(None,)]
