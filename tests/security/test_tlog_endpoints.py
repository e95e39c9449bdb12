"""The tile and witness endpoints under attack: a witness request is bounded before it is
parsed (its only credential is the log's signature, per tlog-witness), tile paths admit
nothing but tiles, and asking witnesses to cosign is for admins only."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.services import serving
from weightwatch.attest.note import NoteKey
from weightwatch.attest.witness import MAX_BODY, Witness
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user
from weightwatch.server import create_app
from weightwatch.server.tlog import TlogConfig


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("tlog-sec")
    reg = Registry.open(root / "reg", init=True)
    create_user(reg.store, "admin", "correct horse battery staple", role="admin")
    create_user(reg.store, "alice", "correct horse battery staple")
    tokens = {u: create_token(reg.store, u) for u in ("admin", "alice")}
    key = ed25519.Ed25519PrivateKey.generate()
    trusted = {"other.example/log": [NoteKey.of("other.example/log", key.public_key())]}
    witness = Witness(
        "w.example", ed25519.Ed25519PrivateKey.generate(), trusted, f"sqlite:///{root / 'w.db'}"
    )
    with serving(create_app(root / "reg", tlog_config=TlogConfig(witness=witness))) as url:
        yield url, tokens
    reg.close()


def test_oversized_witness_request_is_refused_before_parsing(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with httpx.Client() as http:
        r = http.post(f"{url}/witness/add-checkpoint", content=b"old 0\n" + b"A" * MAX_BODY)
        assert r.status_code == 413

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(64):
                yield b"A" * 1024

        r = http.post(f"{url}/witness/add-checkpoint", content=chunks())  # no length
        assert r.status_code == 413


def test_garbage_and_unsigned_requests(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with httpx.Client() as http:
        assert http.post(f"{url}/witness/add-checkpoint", content=b"\xff" * 10).status_code == 400
        body = b"old 0\n\nother.example/log\n1\n" + b"A" * 43 + b"=\n\n\xe2\x80\x94 x AAAAAAAA\n"
        assert http.post(f"{url}/witness/add-checkpoint", content=body).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "0/..%2F..%2Fregistry.db",  # (a plain "../" is normalised away by the client itself)
        "0/000%00",
        "99/000",
        "0/" + "x999/" * 20 + "000",
    ],
)
def test_tile_paths_admit_only_tiles(server, path: str) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    r = httpx.get(f"{url}/tlog/tile/{path}")
    assert r.status_code in (400, 404) and b"SQLite" not in r.content


def test_only_admins_ask_witnesses(server) -> None:  # type: ignore[no-untyped-def]
    url, tokens = server
    with httpx.Client() as http:
        assert http.post(f"{url}/api/v1/log/cosign").status_code == 401
        auth = {"Authorization": f"Bearer {tokens['alice']}"}
        assert http.post(f"{url}/api/v1/log/cosign", headers=auth).status_code == 403
        auth = {"Authorization": f"Bearer {tokens['admin']}"}
        assert http.post(f"{url}/api/v1/log/cosign", headers=auth).status_code == 409  # none set
