"""Recipient copies under attack: a recipient gets their own marked copy through every
download route (resolve by branch, commit or version, HEAD, byte ranges, a presigned
redirect, the real ``huggingface_hub`` client) and never the unmarked original or another
recipient's copy; the master secret and the keys never appear in an answer; every
download is logged with the copy's key id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.services import hub_client, serving
from weightwatch.attest.bundle import open_bundle
from weightwatch.registry import Registry, recipients, schema
from weightwatch.registry.access import create_token, principal_for, set_grant
from weightwatch.registry.accounts import create_user, set_namespace_owner
from weightwatch.watermark.recipients import PREDICATE_TYPE, read_statement

pytestmark = pytest.mark.slow
WEIGHTS = "model.safetensors"
USERS = ("alice", "bob", "owner")


def _setup(reg: Registry, llama_family) -> dict[str, str]:  # type: ignore[no-untyped-def]
    for u in USERS:
        create_user(reg.store, u, f"{u}-password-123", orgs=("acme",) if u == "owner" else ())
    set_namespace_owner(reg.store, "acme", "acme")
    reg.register(llama_family.base, "acme/gated", access="gated")
    for u in ("alice", "bob"):
        set_grant(reg.store, "acme/gated", u, "accepted")
    recipients.enable(reg.store, reg.resolve("acme", "gated"))
    return {u: create_token(reg.store, u) for u in USERS}


@pytest.fixture
def site(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    tokens = _setup(reg, llama_family)
    with serving(create_app(tmp_path / "reg")) as url:
        yield reg, url, tokens
    reg.close()


def _get(url: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(url, timeout=120, **kw)  # a first request makes the copy: seconds


def _head(url: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.head(url, timeout=120, **kw)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_each_route_serves_the_callers_own_copy(site, llama_family):
    reg, url, tokens = site
    v = reg.resolve("acme", "gated")
    original = (llama_family.base / WEIGHTS).read_bytes()
    got = {}
    for u in USERS:
        body = {}
        for rev in ("main", v.commit, "v1"):
            r = _get(f"{url}/acme/gated/resolve/{rev}/{WEIGHTS}", headers=_auth(tokens[u]))
            assert r.status_code == 200 and r.headers["x-repo-commit"] == v.commit
            assert r.headers["etag"] == f'"{_sha(r.content)}"'  # the copy's own identity
            body[rev] = r.content
        assert len(set(body.values())) == 1  # every revision name serves the same copy
        got[u] = body["main"]
        h = _head(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=_auth(tokens[u]))
        assert h.headers["x-linked-etag"] == f'"{_sha(got[u])}"'
        assert int(h.headers["content-length"]) == len(got[u]) == len(original)
        ranged = _get(
            f"{url}/acme/gated/resolve/main/{WEIGHTS}",
            headers={**_auth(tokens[u]), "Range": "bytes=100-"},
        )
        assert ranged.status_code == 206 and ranged.content == got[u][100:]
        info = _get(f"{url}/api/models/acme/gated", headers=_auth(tokens[u])).json()
        sib = {s["rfilename"]: s["lfs"]["sha256"] for s in info["siblings"]}
        tree = _get(f"{url}/api/models/acme/gated/tree/main", headers=_auth(tokens[u]))
        assert (
            sib[WEIGHTS]
            == _sha(got[u])
            == {e["path"]: e["lfs"]["oid"] for e in tree.json()}[WEIGHTS]
        )
    assert got["owner"] == original  # owners get the original
    assert got["alice"] != original and got["bob"] != original and got["alice"] != got["bob"]
    # another file is the original for everyone
    cfg = _get(f"{url}/acme/gated/resolve/main/config.json", headers=_auth(tokens["alice"]))
    assert cfg.content == (llama_family.base / "config.json").read_bytes()
    # the download log says which copy each recipient got (the owner's row has none)
    with reg.store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.downloads.c.user, schema.downloads.c.path, schema.downloads.c.copy_key_id)
        ).all()
    keys = {u: {k for (who, p, k) in rows if who == u and p == WEIGHTS} for u in USERS}
    served = {
        u: recipients.served_files(reg.store, principal_for(reg.store, u), v, reg.files(v.id))
        for u in ("alice", "bob")
    }
    for u in ("alice", "bob"):
        (mine,) = keys[u]
        assert mine == next(s.key_id for s in served[u] if s.path == WEIGHTS)
    assert keys["owner"] == {None} and keys["alice"] != keys["bob"]


def test_no_route_leaks_the_original_another_copy_or_a_key(site, llama_family):
    reg, url, tokens = site
    v = reg.resolve("acme", "gated")
    original = _sha((llama_family.base / WEIGHTS).read_bytes())
    bob = _get(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=_auth(tokens["bob"]))
    # without a grant, with a bad token or none, nothing of the weights is served
    for headers in ({}, _auth("ww_forged"), {"Range": "bytes=0-10"}):
        r = _get(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=headers)
        assert r.status_code in (401, 403, 404) and r.content[:8] != bob.content[:8]
    set_grant(reg.store, "acme/gated", "alice", "rejected", reason="revoked")
    r = _get(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=_auth(tokens["alice"]))
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    set_grant(reg.store, "acme/gated", "alice", "accepted")
    # a path naming a blob (the original's digest, bob's copy's digest) is no file
    for digest in (original, _sha(bob.content)):
        r = _get(f"{url}/acme/gated/resolve/{digest}/{WEIGHTS}", headers=_auth(tokens["alice"]))
        assert r.status_code == 404
        r = _get(f"{url}/acme/gated/resolve/main/{digest}", headers=_auth(tokens["alice"]))
        assert r.status_code == 404
    # the signed derivation record: alice's own copy only, no key material anywhere
    d = _get(f"{url}/api/v1/models/acme/gated/versions/1/copy", headers=_auth(tokens["alice"]))
    assert d.status_code == 200
    copy = read_statement(open_bundle(d.json(), reg.verifier(), predicate_types=(PREDICATE_TYPE,)))
    (rec,) = copy.files
    assert copy.recipient == "alice" and rec.original_sha256 == original
    alice = _get(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=_auth(tokens["alice"]))
    assert rec.copy_sha256 == _sha(alice.content) != _sha(bob.content)
    master = recipients.master_secret(reg.store)
    m = recipients.marking(reg.store, v.id)
    assert m is not None
    secrets = [master.material, m.key(master, "alice").material, m.key(master, "bob").material]
    for text in (d.text, str(alice.headers), _get(f"{url}/api/models/acme/gated").text):
        for s in secrets:
            assert s.hex() not in text and s.hex().upper() not in text
    assert oct((reg.store.root / "keys" / recipients.MASTER_FILE).stat().st_mode)[-3:] == "600"
    for who, code in ((tokens["owner"], 404), (None, 401)):
        r = _get(
            f"{url}/api/v1/models/acme/gated/versions/1/copy",
            headers=_auth(who) if who else {},
        )
        assert r.status_code == code


def test_snapshot_download_gets_the_recipients_copy_unchanged_client(site, llama_family, tmp_path):
    reg, url, tokens = site
    code = (
        "import sys\nfrom huggingface_hub import snapshot_download\n"
        f"print(snapshot_download('acme/gated', token={tokens['alice']!r}))\n"
    )
    folder = Path(hub_client(url, tmp_path / f"hf-{len(os.listdir(tmp_path))}", code).strip())
    v = reg.resolve("acme", "gated")
    served = recipients.served_files(
        reg.store, principal_for(reg.store, "alice"), v, reg.files(v.id)
    )
    for s in served:
        assert _sha((folder / s.path).read_bytes()) == s.sha256, s.path
    assert _sha((folder / WEIGHTS).read_bytes()) != _sha((llama_family.base / WEIGHTS).read_bytes())
    # and the copy traces back to alice from its weights
    assert recipients.trace(reg.store, v, derivative=folder).recipient == "alice"


@pytest.mark.integration
def test_a_presigned_redirect_points_at_the_recipients_copy_only(tmp_path, llama_family, s3_blobs):
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    tokens = _setup(reg, llama_family)
    original = _sha((llama_family.base / WEIGHTS).read_bytes())
    try:
        with serving(create_app(tmp_path / "reg", blobs=s3_blobs, downloads="redirect")) as url:
            r = _get(f"{url}/acme/gated/resolve/main/{WEIGHTS}", headers=_auth(tokens["alice"]))
            assert r.status_code in (302, 307)
            where = r.headers["location"]
            mine = _get(where)
            assert mine.status_code == 200 and _sha(mine.content) != original
            assert f"{original[:2]}/{original[2:]}" not in where
            swapped = where.replace(
                f"{_sha(mine.content)[:2]}/{_sha(mine.content)[2:]}",
                f"{original[:2]}/{original[2:]}",
            )
            assert swapped != where and _get(swapped).status_code == 403
    finally:
        reg.close()
