"""Recall notices and webhooks against a real HTTP receiver on 127.0.0.1, on SQLite and
PostgreSQL: a takedown that propagates to two descendants sends exactly one verified,
signed event per recipient; a receiver that fails twice gets it on the third try; the
delivery log shows every attempt; an account that never downloaded gets nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.registry.conftest import with_card
from weightwatch.cli import main
from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry import Registry
from weightwatch.registry.access import authenticate, create_token, log_download
from weightwatch.registry.accounts import add_member, create_user, set_namespace_owner
from weightwatch.registry.notify import add_hook, deliveries
from weightwatch.registry.webhooks import deliver_all, verify

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@dataclass
class Receiver:
    """Records every request; answers 500 to the first ``fail[path]`` requests."""

    url: str = ""
    fail: dict[str, int] = field(default_factory=dict)
    got: list[tuple[str, dict[str, str], bytes, int]] = field(default_factory=list)

    def ok(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b, code in self.got if p == path and code == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                left = rec.fail.get(self.path, 0)
                rec.fail[self.path] = max(0, left - 1)
                code = 500 if left else 200
                rec.got.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body, code)
                )
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def _signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Checked by hand (HMAC-SHA256 over "<timestamp>." + body), not only by verify()."""
    ts = headers["x-weightwatch-timestamp"]
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return (
        headers["x-weightwatch-signature"] == f"sha256={mac}" and abs(time.time() - int(ts)) < 300
    )


def test_takedown_events_reach_each_downloader_once_signed_with_retries(
    registry: Registry, llama_family, tmp_path, receiver, db_url, capsys
):  # type: ignore[no-untyped-def]
    store = registry.store
    registry.webhook_backoff = (0.05, 0.05, 0.05)
    registry.register(llama_family.base, "acme/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="acme/base", relation="finetune"
    )
    registry.register(ft, "acme/ft")
    registry.register(llama_family.int8, "acme/q8")
    assert {c.model for c in registry.lineage_tree("acme/base@1").children} == {
        "acme/ft@1",
        "acme/q8@1",
    }

    for user in ("alice", "bob", "carol", "dave"):
        create_user(store, user, PASSWORD, role="user")
    tokens = {u: create_token(store, u) for u in ("alice", "bob", "carol", "dave")}
    who = {u: authenticate(store, t) for u, t in tokens.items()}
    ids = {n: registry.version_id(n) for n in ("acme/base", "acme/ft", "acme/q8")}
    log_download(store, who["alice"], ids["acme/base"], "model.safetensors", "127.0.0.1", "served")
    log_download(store, who["alice"], ids["acme/ft"], "model.safetensors", "127.0.0.1", "served")
    log_download(store, who["bob"], ids["acme/ft"], "config.json", "127.0.0.1", "served")
    log_download(store, who["carol"], ids["acme/q8"], "model.safetensors", "127.0.0.1", "served")
    log_download(store, who["dave"], ids["acme/q8"], "model.safetensors", "127.0.0.1", "denied")

    secrets = {}
    hook_ids = {}
    for user in ("alice", "bob", "carol", "dave"):
        hook, secret = add_hook(store, who[user], f"{receiver.url}/{user}")  # type: ignore[arg-type]
        secrets[user], hook_ids[user] = secret, hook.id
    receiver.fail["/bob"] = 2

    registry.takedown("acme/base@1", reason="leaked weights", actor="moderator")
    assert registry.status("acme/ft@1").status == "quarantined"
    assert registry.status("acme/q8@1").status == "quarantined"
    deliver_all(store, backoff=registry.webhook_backoff, max_wait=30)

    for user in ("alice", "bob", "carol"):
        ok = receiver.ok(f"/{user}")
        assert len(ok) == 1, (user, receiver.got)
        headers, body = ok[0]
        assert _signed_by(secrets[user], headers, body)
        assert verify(
            secrets[user],
            body,
            signature=headers["x-weightwatch-signature"],
            timestamp=headers["x-weightwatch-timestamp"],
        )
        assert not verify("another secret", body, signature=headers["x-weightwatch-signature"], timestamp=headers["x-weightwatch-timestamp"])  # fmt: skip
        doc = json.loads(body)
        assert doc["type"] == headers["x-weightwatch-event"] == "model.takedown"
        assert doc["id"] == headers["x-weightwatch-delivery"]
        assert doc["model"] == "acme/base@1" and doc["reason"] == "leaked weights"
        assert doc["recipient"] == {"kind": "user", "name": user}
    alice = json.loads(receiver.ok("/alice")[0][1])
    assert [d["version"] for d in alice["downloads"]] == ["acme/base@1", "acme/ft@1"]
    assert alice["downloads"][0]["token"] == who["alice"].token  # type: ignore[union-attr]
    assert [d["version"] for d in json.loads(receiver.ok("/carol")[0][1])["downloads"]] == [
        "acme/q8@1"
    ]
    assert not [g for g in receiver.got if g[0] == "/dave"]  # a denied download is no download

    bob = [g for g in receiver.got if g[0] == "/bob"]
    assert [g[3] for g in bob] == [500, 500, 200]
    assert len({g[1]["x-weightwatch-delivery"] for g in bob}) == 1  # one event, retried
    (log,) = deliveries(store, who["bob"], hook_ids["bob"])  # type: ignore[arg-type]
    assert log.state == "delivered"
    assert [(a.attempt, a.status_code, a.error) for a in log.attempts] == [
        (1, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (3, 200, None),
    ]
    assert deliveries(store, who["dave"], hook_ids["dave"]) == []  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):  # one account cannot read another's delivery log
        deliveries(store, who["dave"], hook_ids["bob"])  # type: ignore[arg-type]

    # the recall list and each account's notices say the same
    report = registry.recall("acme/base@1")
    assert report.accounts == ["alice", "bob", "carol"] and report.reason == "leaked weights"
    assert sorted(report.tokens) == sorted(w.token for u, w in who.items() if u != "dave")  # type: ignore[union-attr]
    assert [n.version for n in registry.notices("alice")] == ["acme/ft@1", "acme/base@1"]
    assert registry.notices("dave") == []
    args = ["--registry", str(registry.store.root), "--db-url", db_url]
    assert main(["recall", "acme/base@1", "--json", *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == report.to_json()
    assert main(["recall", "acme/base@1", *args]) == 0
    table = capsys.readouterr().out
    assert "3 account(s), 3 token(s)" in table and "taken down: leaked weights" in table
    assert main(["recall", "acme/none@1", *args]) == 2
    assert "no registered version" in capsys.readouterr().err

    # a reinstatement is one more event each
    registry.reinstate("acme/base@1", reason="counter-notice", actor="moderator")
    deliver_all(store, backoff=registry.webhook_backoff, max_wait=30)
    for user in ("alice", "bob", "carol"):
        types = [json.loads(b)["type"] for _, b in receiver.ok(f"/{user}")]
        assert types == ["model.takedown", "model.reinstate"]


def test_organisation_hooks_and_url_checks(registry: Registry, llama_family, receiver):  # type: ignore[no-untyped-def]
    """An organisation hears about withdrawn versions in its namespaces, not others'."""
    store = registry.store
    create_user(store, "pat", PASSWORD, role="publisher")
    create_user(store, "eve", PASSWORD, role="publisher")
    add_member(store, "acme", "pat")
    add_member(store, "evil", "eve")
    set_namespace_owner(store, "acme", "acme")
    set_namespace_owner(store, "evil", "evil")
    pat = authenticate(store, create_token(store, "pat"))
    eve = authenticate(store, create_token(store, "eve"))
    assert pat is not None and eve is not None
    for bad in ("ftp://x.example/", "file:///etc/passwd", "http://user:pw@x.example/", "nohost"):
        with pytest.raises(UsageError):
            add_hook(store, pat, bad)
    with pytest.raises(AccessDenied):
        add_hook(store, eve, f"{receiver.url}/acme", org="acme")
    add_hook(store, pat, f"{receiver.url}/acme", org="acme")
    add_hook(store, eve, f"{receiver.url}/evil", org="evil")
    registry.register(llama_family.base, "acme/base")
    registry.takedown("acme/base@1", reason="licence breach")
    deliver_all(store, max_wait=5)
    ((_, body),) = receiver.ok("/acme")  # exactly one
    assert json.loads(body)["versions"] == ["acme/base@1"]
    assert receiver.ok("/evil") == []


def test_access_decisions_reach_the_requester(registry: Registry, llama_family, receiver):  # type: ignore[no-untyped-def]
    from weightwatch.registry.access import set_grant

    store = registry.store
    registry.register(llama_family.base, "acme/gated", access="gated")
    for user in ("carol", "dave"):
        create_user(store, user, PASSWORD, role="user")
    carol = authenticate(store, create_token(store, "carol"))
    dave = authenticate(store, create_token(store, "dave"))
    assert carol is not None and dave is not None
    _, secret = add_hook(store, carol, f"{receiver.url}/carol")
    add_hook(store, dave, f"{receiver.url}/dave")
    set_grant(store, "acme/gated", "carol", "pending", actor="carol")
    set_grant(store, "acme/gated", "carol", "rejected", reason="no affiliation", actor="rev")
    deliver_all(store, max_wait=5)
    ((headers, body),) = receiver.ok("/carol")
    assert _signed_by(secret, headers, body)
    doc = json.loads(body)
    assert (doc["type"], doc["model"], doc["state"], doc["reason"]) == (
        "access.decision",
        "acme/gated",
        "rejected",
        "no affiliation",
    )
    assert receiver.ok("/dave") == []
