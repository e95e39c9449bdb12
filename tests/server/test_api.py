"""The JSON API under /api/v1 over real HTTP, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.services import STEADY_SIGNIN, database_url, serving
from weightwatch.registry import Registry

pytestmark = pytest.mark.slow


# -- fixtures -------------------------------------------------------------------------------
CARD = """---
license: apache-2.0
extra_gated_prompt: Research use only.
extra_gated_fields:
  Name: text
  Country: country
  Use:
    type: select
    options: [Research, Other]
  I agree: checkbox
extra_gated_eu_disallowed: true
---
# gated
"""
ANSWERS = {"Name": "Ann", "Country": "United States", "Use": "Research", "I agree": True}
PASSWORDS = {
    "root": ("admin", ()),
    "rev": ("reviewer", ()),
    "pub": ("publisher", ("acme",)),
    "aud": ("auditor", ()),
    "alice": ("user", ()),
    "bob": ("user", ()),
    "claude": ("user", ()),
}


def password(name: str) -> str:
    return f"correct horse {name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, tmp_path_factory, llama_family, gpt2_family):  # type: ignore[no-untyped-def]
    """A served registry: acme/base (public), acme/form (gated, with a form), acme/secret (a
    restricted fine-tune of acme/base), acme/down (public, for takedowns); accounts."""
    import shutil

    from tests.registry.conftest import with_card
    from weightwatch.registry.access import set_model_access
    from weightwatch.registry.accounts import create_user, set_namespace_owner
    from weightwatch.server import create_app

    tmp = tmp_path_factory.mktemp("api")
    db = database_url(request, tmp)
    reg = Registry.open(tmp / "reg", db, init=True)
    reg.register(llama_family.base, "acme/base")
    form = tmp / "form"
    shutil.copytree(llama_family.independent, form)
    (form / "README.md").write_text(CARD)
    reg.register(form, "acme/form", access="gated")
    secret = with_card(
        llama_family.finetune, tmp / "ft", base_model="acme/base", relation="finetune"
    )
    reg.register(secret, "acme/secret", access="restricted")
    reg.register(gpt2_family.base, "acme/down")
    for name, (role, orgs) in PASSWORDS.items():
        create_user(reg.store, name, password(name), role=role, orgs=orgs)
    set_namespace_owner(reg.store, "acme", "acme")
    set_model_access(reg.store, "acme/secret", allowed_orgs=["partner"])
    with serving(create_app(tmp / "reg", db, signin=STEADY_SIGNIN)) as url:
        yield reg, url
    reg.close()


@contextlib.contextmanager
def signed_in(url: str, name: str) -> Iterator[httpx.Client]:
    """A client holding ``name``'s session cookie, sending the CSRF token on writes."""
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.post("/api/v1/login", json={"user": name, "password": password(name)})
        assert r.status_code == 200, r.text
        http.headers["X-CSRF-Token"] = r.json()["csrf"]
        yield http


def actions(reg: Registry) -> list[tuple[str | None, str, str | None]]:
    from weightwatch.registry.accounts import events

    return [(e.actor, e.action, e.target) for e in events(reg.store, limit=1000)]


# -- tests ------------------------------------------------------------------------------------
def test_login_session_tokens_and_logout(api):  # type: ignore[no-untyped-def]
    reg, url = api
    with httpx.Client(base_url=url, timeout=30) as http:
        bad = http.post("/api/v1/login", json={"user": "alice", "password": "wrong password"})
        assert bad.status_code == 401 and bad.json() == {"error": "wrong user name or password"}
        missing = http.post("/api/v1/login", json={"user": "alice"})
        assert missing.status_code == 422 and "password" in missing.json()["error"]
        assert http.get("/api/v1/me").status_code == 401
        r = http.post("/api/v1/login", json={"user": "alice", "password": password("alice")})
        assert r.status_code == 200
        body = r.json()
        assert body["user"] == "alice" and body["role"] == "user" and body["csrf"]
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "ww_session=" in cookie
        assert http.get("/api/v1/me").json()["user"] == "alice"
        # a cookie-authenticated write needs the session's CSRF token
        refused = http.post("/api/v1/tokens")
        assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
        made = http.post("/api/v1/tokens", headers={"X-CSRF-Token": body["csrf"]})
        assert made.status_code == 201
        token = made.json()["token"]
        assert token.startswith("ww_")
        bearer = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, timeout=30) as other:  # no cookie: the token alone
            assert other.get("/api/v1/me", headers=bearer).json()["user"] == "alice"
            assert other.post("/api/v1/tokens", headers=bearer).status_code == 201  # no CSRF
            revoked = other.delete("/api/v1/tokens", headers=bearer)
            assert revoked.json() == {"revoked": 2}
            gone = other.get("/api/v1/me", headers=bearer)
            assert gone.status_code == 401 and gone.json() == {"error": "invalid or revoked token"}
        out = http.post("/api/v1/logout", headers={"X-CSRF-Token": body["csrf"]})
        assert out.json() == {"signed_out": True}
        assert http.get("/api/v1/me").status_code == 401
    done = actions(reg)
    assert (None, "login.failed", "alice") in done and ("alice", "login", "alice") in done
    assert ("alice", "token.create", "alice") in done and ("alice", "token.revoke", "alice") in done
    assert ("alice", "logout", "alice") in done


def test_admin_users_organisations_and_namespaces(api):  # type: ignore[no-untyped-def]
    reg, url = api
    with signed_in(url, "root") as http:
        names = [u["name"] for u in http.get("/api/v1/users").json()]
        assert {"root", "alice", "pub"} <= set(names)
        new = {"name": "dora", "password": "a long password", "role": "publisher"}
        made = http.post("/api/v1/users", json=new)
        assert made.status_code == 201 and made.json()["role"] == "publisher"
        assert "password" not in made.text
        again = http.post("/api/v1/users", json=new)
        assert again.status_code == 400 and "already exists" in again.json()["error"]
        short = http.post("/api/v1/users", json={"name": "eve", "password": "short"})
        assert short.status_code == 400 and "8 characters" in short.json()["error"]
        extra = http.post("/api/v1/users", json={**new, "name": "fay", "admin": True})
        assert extra.status_code == 422 and "admin" in extra.json()["error"]
        member = http.post("/api/v1/orgs/dora-labs/members", json={"user": "dora"})
        assert member.json() == {"org": "dora-labs", "members": ["dora"]}
        nobody = http.post("/api/v1/orgs/dora-labs/members", json={"user": "nobody"})
        assert nobody.status_code == 400 and "no user" in nobody.json()["error"]
        owned = http.put("/api/v1/namespaces/dora", json={"org": "dora-labs"})
        assert owned.json() == {"namespace": "dora", "org": "dora-labs"}
        bad = http.put("/api/v1/namespaces/Dora", json={"org": "dora-labs"})
        assert bad.status_code == 400 and "NAMESPACE/NAME" in bad.json()["error"]
    done = actions(reg)
    assert ("root", "user.create", "dora") in done and ("root", "org.member", "dora-labs") in done
    assert ("root", "namespace.owner", "dora") in done


def test_models_versions_files_reports_and_lineage(api, llama_family):  # type: ignore[no-untyped-def]
    _, url = api
    with httpx.Client(base_url=url, timeout=30) as http:
        listed = {m["model"]: m for m in http.get("/api/v1/models").json()}
        assert {"acme/base", "acme/form"} <= set(listed) and "acme/secret" not in listed
        assert listed["acme/form"]["status"] == "gated"
        found = http.get("/api/v1/models", params={"q": "FORM"}).json()
        assert [m["model"] for m in found] == ["acme/form"]
        assert len(http.get("/api/v1/models", params={"limit": 1}).json()) == 1
        bad_limit = http.get("/api/v1/models", params={"limit": 0})
        assert bad_limit.status_code == 422 and "limit" in bad_limit.json()["error"]
        detail = http.get("/api/v1/models/acme/base").json()
        assert detail["owner_org"] == "acme" and [v["version"] for v in detail["versions"]] == [1]
        assert detail["allowed_orgs"] is None  # for managers only
        v = http.get("/api/v1/models/acme/base/versions/1").json()
        assert v["model"] == "acme/base@1" and v["status"] == "published"
        assert v["children"] == []  # the restricted fine-tune is not for anonymous eyes
        files = {f["path"]: f for f in http.get("/api/v1/models/acme/base/versions/1/files").json()}
        want = llama_family.base / "config.json"
        assert files["config.json"]["size"] == want.stat().st_size
        scan = http.get("/api/v1/models/acme/base/versions/1/reports/scan").json()
        assert scan["verdict"] == "clean"
        assert http.get("/api/v1/models/acme/base/versions/1/reports/facts").status_code == 200
        unknown = http.get("/api/v1/models/acme/base/versions/1/reports/horoscope")
        assert unknown.status_code == 404 and "scan" in unknown.json()["error"]
        assert http.get("/api/v1/models/acme/base/versions/1/reports/audit").status_code == 404
        decisions = http.get("/api/v1/models/acme/base/versions/1/decisions").json()
        assert decisions[0]["cause"] == "registration" and decisions[0]["log_index"] is not None
        for missing in (
            "/api/v1/models/acme/nope",
            "/api/v1/models/acme/base/versions/9",
            "/api/v1/models/acme/secret",  # restricted: answered as if it did not exist
        ):
            r = http.get(missing)
            assert r.status_code == 404 and r.json()["error"].startswith("no model"), missing
        assert http.get("/api/v1/models/acme/base/versions/one").status_code == 422
        tree = http.get("/api/v1/models/acme/base/lineage").json()
        assert tree["model"] == "acme/base@1" and tree["children"] == []
    with signed_in(url, "root") as admin:
        tree = admin.get("/api/v1/models/acme/base/lineage").json()
        assert {c["model"] for c in tree["children"]} == {"acme/secret@1"}  # declared, detected
        v = admin.get("/api/v1/models/acme/base/versions/1").json()
        assert {c["model"] for c in v["children"]} == {"acme/secret@1"}
        assert admin.get("/api/v1/models/acme/secret").json()["allowed_orgs"] == ["partner"]


def test_attestation_and_log_proofs_verify_offline(api, tmp_path):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from weightwatch.attest.checkpoint import verify_checkpoint, verify_entry_offline
    from weightwatch.attest.keys import load_verifier
    from weightwatch.merkle import verify_consistency

    reg, url = api
    with httpx.Client(base_url=url, timeout=30) as http:
        pub = tmp_path / "log.pub"
        pub.write_text(http.get("/api/v1/log/key").text)
        key = load_verifier(pub)
        att = http.get("/api/v1/models/acme/base/versions/1/attestation").json()
        assert att["bundle"]["dsseEnvelope"]["payload"]
        d = att["decision_proof"]
        verify_entry_offline(
            d["leaf"].encode(), d["index"], [bytes.fromhex(h) for h in d["hashes"]],
            d["checkpoint"], key,
        )  # fmt: skip
        a = att["attestation_proof"]
        leaf = http.get(f"/api/v1/log/entries/{a['index']}").json()["leaf"].encode()
        verify_entry_offline(
            leaf, a["index"], [bytes.fromhex(h) for h in a["hashes"]], a["checkpoint"], key
        )
        # every entry's proof, as the CLI's offline verifier checks it
        old_note = http.get("/api/v1/log/checkpoint").text
        old = verify_checkpoint(old_note, key)
        entries = http.get("/api/v1/log/entries").json()
        assert [e["index"] for e in entries] == list(range(old.size))
        for e in entries:
            p = http.get(f"/api/v1/log/entries/{e['index']}/proof").json()
            assert p["size"] == old.size
            verify_entry_offline(
                e["leaf"].encode(), p["index"], [bytes.fromhex(h) for h in p["hashes"]],
                p["checkpoint"], key,
            )  # fmt: skip
        last = entries[-1]
        (tmp_path / "entry.json").write_text(last["leaf"])
        proof = http.get(f"/api/v1/log/entries/{last['index']}/proof").json()
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        (tmp_path / "checkpoint.txt").write_text(proof["checkpoint"])
        cli = subprocess.run(
            [sys.executable, "-m", "weightwatch", "log", "verify", "--entry",
             str(tmp_path / "entry.json"), "--proof", str(tmp_path / "proof.json"),
             "--checkpoint", str(tmp_path / "checkpoint.txt"), "--pub", str(pub)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert cli.returncode == 0 and "verified" in cli.stdout, cli.stderr
        # the log grows; the new signed head is consistent with the old one
        reg.store.log.append(b"{}", kind="test")
        grown = http.get("/api/v1/log/consistency", params={"first": old.size}).json()
        new = verify_checkpoint(grown["checkpoint"], key)
        assert new.size == old.size + 1 == grown["second"]
        verify_consistency(
            old.size, new.size, old.root, new.root, [bytes.fromhex(h) for h in grown["hashes"]]
        )
        # bad input: clear 4xx
        assert http.get("/api/v1/log/entries/99999").status_code == 404
        beyond = http.get(f"/api/v1/log/entries/0/proof?size={new.size + 5}")
        assert beyond.status_code == 400 and "entries" in beyond.json()["error"]
        assert http.get("/api/v1/log/consistency", params={"first": 0}).status_code == 422
        backwards = http.get("/api/v1/log/consistency", params={"first": 3, "second": 2})
        assert backwards.status_code == 400
        page = http.get("/api/v1/log/entries", params={"start": 0, "end": 10_000}).json()
        assert len(page) == min(100, new.size)
        assert http.get("/api/v1/log/entries", params={"start": 5, "end": 2}).status_code == 400


def test_gate_requests_decisions_and_report(api):  # type: ignore[no-untyped-def]
    reg, url = api
    with signed_in(url, "alice") as alice, signed_in(url, "pub") as pub:
        gate = alice.get("/api/v1/models/acme/form/gate").json()
        assert gate["gated"] and gate["mode"] == "manual" and gate["request_state"] is None
        assert [f["label"] for f in gate["gate"]["fields"]] == list(ANSWERS)
        assert gate["gate"]["eu_disallowed"] is True
        incomplete = alice.post(
            "/api/v1/models/acme/form/access-requests", json={"answers": {"Name": "Ann"}}
        )
        assert incomplete.status_code == 400 and "required" in incomplete.json()["error"]
        asked = alice.post("/api/v1/models/acme/form/access-requests", json={"answers": ANSWERS})
        assert asked.status_code == 201 and asked.json()["state"] == "pending"
        assert asked.json()["answers"]["Country"] == "US"
        public = alice.post("/api/v1/models/acme/base/access-requests", json={"answers": {}})
        assert public.status_code == 409 and "not gated" in public.json()["error"]
        mine = alice.get("/api/v1/access-requests").json()
        assert [(g["model"], g["state"]) for g in mine] == [("acme/form", "pending")]
        pending = pub.get("/api/v1/access-requests", params={"state": "pending"}).json()
        assert ("acme/form", "alice") in {(g["model"], g["user"]) for g in pending}
        with signed_in(url, "bob") as bob:
            assert bob.get("/api/v1/access-requests").json() == []
            assert bob.post("/api/v1/models/acme/form/access-requests/alice",
                            json={"state": "accepted"}).status_code == 403  # fmt: skip
        # the Hub refuses the download until a manager accepts
        cfg = "/acme/form/resolve/main/config.json"
        assert alice.get(cfg).status_code == 403
        no_reason = pub.post(
            "/api/v1/models/acme/form/access-requests/alice", json={"state": "rejected"}
        )
        assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
        bogus = pub.post("/api/v1/models/acme/form/access-requests/alice", json={"state": "maybe"})
        assert bogus.status_code == 400
        ok = pub.post("/api/v1/models/acme/form/access-requests/alice", json={"state": "accepted"})
        assert ok.json()["state"] == "accepted" and ok.json()["decided_by"] == "pub"
        assert alice.get(cfg).status_code == 200
        assert alice.get("/api/v1/models/acme/form/gate").json()["request_state"] == "accepted"
        # settings: automatic approval, and the EU rule
        assert (
            pub.put("/api/v1/models/acme/form/access", json={"gate_mode": "sometimes"}).status_code
            == 400
        )
        auto = pub.put("/api/v1/models/acme/form/access", json={"gate_mode": "auto"})
        assert auto.json()["gate_mode"] == "auto"
        with signed_in(url, "bob") as bob:
            quick = bob.post("/api/v1/models/acme/form/access-requests", json={"answers": ANSWERS})
            assert quick.json()["state"] == "accepted" and quick.json()["decided_by"] == "auto"
        with signed_in(url, "claude") as claude:
            eu = claude.post("/api/v1/models/acme/form/access-requests",
                             json={"answers": {**ANSWERS, "Country": "France"}})  # fmt: skip
            assert eu.json()["state"] == "rejected" and "EU" in eu.json()["reason"]
    with signed_in(url, "aud") as aud:
        csv = aud.get("/api/v1/models/acme/form/access-report.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0].startswith("user,state,reason") and "Name" in lines[0]
        assert {line.split(",")[0] for line in lines[1:]} == {"alice", "bob", "claude"}
    done = actions(reg)
    assert ("pub", "access.accepted", "acme/form") in done
    assert ("pub", "model.access", "acme/form") in done
    assert ("alice", "access.request", "acme/form") in done


def test_takedown_and_reinstatement(api):  # type: ignore[no-untyped-def]
    reg, url = api
    with signed_in(url, "rev") as rev, httpx.Client(base_url=url, timeout=30) as anon:
        path = "/api/v1/models/acme/down/versions/1"
        assert rev.post(path + "/takedown", json={}).status_code == 422
        blank = rev.post(path + "/takedown", json={"reason": "  "})
        assert blank.status_code == 400 and "reason" in blank.json()["error"]
        down = rev.post(path + "/takedown", json={"reason": "licence revoked"})
        assert down.status_code == 200 and down.json()["status"] == "taken_down"
        again = rev.post(path + "/takedown", json={"reason": "licence revoked"})
        assert again.status_code == 409 and "already" in again.json()["error"]
        listed = {m["model"]: m["status"] for m in anon.get("/api/v1/models").json()}
        assert listed["acme/down"] == "taken_down"  # a registry shows that it happened
        assert anon.get(path).json()["status"] == "taken_down"
        assert anon.get(path + "/files").status_code == 403
        assert rev.get(path + "/files").status_code == 200  # reviewers still see what it was
        assert anon.get("/acme/down/resolve/main/config.json").status_code == 403
        back = rev.post(path + "/reinstate", json={"reason": "licence restored"})
        assert back.status_code == 200 and back.json()["status"] == "published"
        assert anon.get(path + "/files").status_code == 200
        not_down = rev.post(path + "/reinstate", json={"reason": "again"})
        assert not_down.status_code == 409
    done = actions(reg)
    assert ("rev", "model.takedown", "acme/down@1") in done
    assert ("rev", "model.reinstate", "acme/down@1") in done
    with reg.store.engine.connect() as conn:
        from sqlalchemy import select

        from weightwatch.registry import schema

        actors = conn.execute(select(schema.takedowns.c.actor)).scalars().all()
    assert set(actors) == {"rev"}


def test_release_from_quarantine(api):  # type: ignore[no-untyped-def]
    reg, url = api
    path = "/api/v1/models/acme/secret/versions/1"
    with signed_in(url, "rev") as rev, signed_in(url, "pub") as pub:
        down = rev.post("/api/v1/models/acme/base/versions/1/takedown", json={"reason": "leak"})
        assert down.status_code == 200
        held = rev.get(path).json()
        assert held["status"] == "quarantined"
        assert pub.post(path + "/release", json={"reason": "mine"}).status_code == 403
        assert rev.post(path + "/release", json={}).status_code == 422
        blank = rev.post(path + "/release", json={"reason": " "})
        assert blank.status_code == 400 and "reason" in blank.json()["error"]
        out = rev.post(path + "/release", json={"reason": "trained from scratch; checked"})
        assert out.status_code == 200, out.text
        body = out.json()
        assert body["status"] == "restricted"  # the tier it asked for, not "published"
        assert body["decision"]["cause"] == "release by rev"
        assert "released by rev: trained from scratch; checked" in body["decision"]["reasons"]
        assert body["decision"]["log_index"] > held["decision"]["log_index"]
        entry = rev.get(f"/api/v1/log/entries/{body['decision']['log_index']}").json()
        logged = json.loads(entry["leaf"])["body"]
        assert logged["cause"] == "release by rev" and logged["status"] == "restricted"
        again = rev.post(path + "/release", json={"reason": "again"})
        assert again.status_code == 409 and "not quarantined" in again.json()["error"]
        published = rev.post("/api/v1/models/acme/form/versions/1/release", json={"reason": "x"})
        assert published.status_code == 409
        back = rev.post("/api/v1/models/acme/base/versions/1/reinstate", json={"reason": "ok"})
        assert back.status_code == 200
        assert rev.get(path).json()["status"] == "restricted"
    assert ("rev", "model.release", "acme/secret@1") in actions(reg)


def test_errors_are_uniform(api):  # type: ignore[no-untyped-def]
    _, url = api
    with httpx.Client(base_url=url, timeout=30) as http:
        for method, path, status in (
            ("GET", "/api/v1/no-such-thing", 404),
            ("DELETE", "/api/v1/models", 401),  # anonymous writes: authenticated first
            ("GET", "/api/v1/log/entries?start=-1", 422),
            ("GET", "/api/v1/uploads/nope", 401),
        ):
            r = http.request(method, path)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"] == "application/json", path
            assert set(r.json()) == {"error"} and r.json()["error"], (path, r.text)
        assert "start" in http.get("/api/v1/log/entries?start=-1").json()["error"]
        assert http.get("/api/v1/me").headers["www-authenticate"] == "Bearer"  # headers kept
        assert http.get("/api/v1/uploads/nope").json() == {"error": "sign in or send an API token"}
        # the Hub-compatible routes answer as the Hub does
        hub = http.get("/api/models/acme/nope")
        assert hub.status_code == 404 and hub.headers["x-error-code"] == "RepoNotFound"
        assert hub.json() == {"error": "Repository not found."}
        # the web UI and unknown paths get the site's HTML error page
        for path, status in (("/no/such/page/here", 404), ("/models/acme/base?v=one", 422)):
            page = http.get(path)
            assert page.status_code == status and page.headers["content-type"].startswith(
                "text/html"
            ), path
            assert 'role="alert"' in page.text and "Back to the models" in page.text


def test_throttled_sign_in_is_429(api):  # type: ignore[no-untyped-def]
    from weightwatch.registry.accounts import create_user
    from weightwatch.registry.signin import DEFAULT_POLICY

    reg, url = api
    create_user(reg.store, "mallet", password("mallet"))
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(DEFAULT_POLICY.free):  # full speed, then the backoff starts
            r = http.post("/api/v1/login", json={"user": "mallet", "password": "guess-guess"})
            assert r.status_code == 401
        for pw in ("guess-guess", password("mallet")):  # even the right password, for now
            r = http.post("/api/v1/login", json={"user": "mallet", "password": pw})
            assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 900
            assert r.json()["error"].startswith("too many failed sign-ins for this user")
    assert (None, "login.throttled", "mallet") in actions(reg)


def test_audit_logs_are_paged(api):  # type: ignore[no-untyped-def]
    _, url = api
    with httpx.Client(base_url=url, timeout=30) as anon:
        anon.get("/acme/base/resolve/main/config.json")
        anon.get("/acme/form/resolve/main/config.json")
    with signed_in(url, "aud") as aud:
        rows = aud.get("/api/v1/audit/downloads", params={"limit": 2}).json()
        assert [(r["model"], r["outcome"]) for r in rows] == [
            ("acme/form@1", "denied"),
            ("acme/base@1", "served"),
        ]
        older = aud.get("/api/v1/audit/downloads", params={"before": rows[-1]["id"]}).json()
        assert all(r["id"] < rows[-1]["id"] for r in older)
        first = aud.get("/api/v1/audit/events", params={"limit": 3}).json()
        assert len(first) == 3 and first[0]["id"] > first[-1]["id"]
        nxt = aud.get("/api/v1/audit/events", params={"limit": 3, "before": first[-1]["id"]}).json()
        assert nxt and nxt[0]["id"] < first[-1]["id"]
        assert aud.get("/api/v1/audit/events", params={"limit": 100_000}).status_code == 422


def test_openapi_documents_the_api(api):  # type: ignore[no-untyped-def]
    _, url = api
    doc = httpx.get(f"{url}/openapi.json").json()
    paths = doc["paths"]
    for p in (
        "/api/v1/login",
        "/api/v1/models",
        "/api/v1/models/{ns}/{name}/versions/{n}",
        "/api/v1/models/{ns}/{name}/versions/{n}/attestation",
        "/api/v1/log/entries/{i}/proof",
        "/api/v1/audit/events",
    ):
        assert p in paths, p
    assert "VersionView" in doc["components"]["schemas"]
    assert httpx.get(f"{url}/docs").status_code == 200
