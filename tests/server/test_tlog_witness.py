"""Two registries serve their logs as C2SP tiles and witness each other over real HTTP on
127.0.0.1; a copy of one log that diverges (a split view) is refused by the witness and
by a client that requires cosignatures or remembers what it accepted."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.services import serving
from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.attest.note import parse_vkey
from weightwatch.attest.tlog_client import LogClient, TrustState, WitnessEndpoint, follow
from weightwatch.attest.witness import Witness, request_body
from weightwatch.errors import VerificationError
from weightwatch.registry import Registry
from weightwatch.server import create_app
from weightwatch.server.tlog import IMMUTABLE, TlogConfig


def _registry(root: Path, origin: str, entries: int) -> Registry:
    reg = Registry.open(root, init=True)
    reg.set_log_origin(origin)
    append(reg, entries, origin)
    return reg


def append(reg: Registry, n: int, tag: str) -> None:
    time = "2026-12-06T00:00:00+00:00"
    leaves = [("test", entry_leaf("test", {"tag": tag, "i": i}, time=time)) for i in range(n)]
    reg.store.log.append_many(leaves)


@pytest.fixture
def logs(tmp_path):  # type: ignore[no-untyped-def]
    a = _registry(tmp_path / "a", "a.example/log", 300)  # > 256: a full tile, a partial one
    a_vkey = a.log_vkey()
    a.close()
    shutil.copytree(tmp_path / "a", tmp_path / "fork")  # the same log, key and history
    b = _registry(tmp_path / "b", "b.example/log", 5)
    b_vkey = b.log_vkey()
    b.close()
    wa_key, wb_key = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    wit_a = Witness(
        "a.example/witness",
        wa_key,
        {"b.example/log": [parse_vkey(b_vkey)]},
        f"sqlite:///{tmp_path / 'wa.db'}",
    )
    wit_b = Witness(
        "b.example/witness",
        wb_key,
        {"a.example/log": [parse_vkey(a_vkey)]},
        f"sqlite:///{tmp_path / 'wb.db'}",
    )
    cfg_a, cfg_b, cfg_f = TlogConfig(witness=wit_a), TlogConfig(witness=wit_b), TlogConfig()
    with (
        serving(create_app(tmp_path / "a", tlog_config=cfg_a)) as url_a,
        serving(create_app(tmp_path / "b", tlog_config=cfg_b)) as url_b,
        serving(create_app(tmp_path / "fork", tlog_config=cfg_f)) as url_f,
    ):
        cfg_a.witnesses.append(WitnessEndpoint(f"{url_b}/witness", wit_b.note_key))
        cfg_b.witnesses.append(WitnessEndpoint(f"{url_a}/witness", wit_a.note_key))
        cfg_f.witnesses.append(WitnessEndpoint(f"{url_b}/witness", wit_b.note_key))
        regs = {k: Registry.open(tmp_path / k) for k in ("a", "b", "fork")}
        yield {
            "url": {"a": url_a, "b": url_b, "fork": url_f},
            "cfg": {"a": cfg_a, "b": cfg_b, "fork": cfg_f},
            "reg": regs,
            "vkey": {"a": parse_vkey(a_vkey), "b": parse_vkey(b_vkey)},
            "witness": {"a": wit_a.note_key, "b": wit_b.note_key},
            "tmp": tmp_path,
        }
        for reg in regs.values():
            reg.close()


def cosign(env, name: str):  # type: ignore[no-untyped-def]
    return env["reg"][name].cosign_checkpoint(env["cfg"][name].witnesses)


def test_tiles_are_static_and_cacheable(logs) -> None:  # type: ignore[no-untyped-def]
    url = logs["url"]["a"]
    with httpx.Client() as http:
        cp = http.get(f"{url}/tlog/checkpoint")
        assert cp.status_code == 200 and cp.headers["content-type"].startswith("text/plain")
        assert "max-age=2" in cp.headers["cache-control"]
        size = int(cp.text.split("\n")[1])  # 300 entries + the key_change entry
        full = http.get(f"{url}/tlog/tile/0/000")
        assert full.status_code == 200 and len(full.content) == 256 * 32
        assert full.headers["cache-control"] == IMMUTABLE
        part = http.get(f"{url}/tlog/tile/0/001.p/{size - 256}")
        assert len(part.content) == (size - 256) * 32
        assert http.get(f"{url}/tlog/tile/1/000.p/1").status_code == 200
        assert http.get(f"{url}/tlog/tile/0/001").status_code == 404  # not full yet
        assert http.get(f"{url}/tlog/tile/0/01").status_code == 400
        assert http.get(f"{url}/tlog/tile/entries/000").status_code == 200
    client = LogClient(f"{url}/tlog", logs["vkey"]["a"])
    opened, _note = client.checkpoint()
    client.check_root(opened)  # tiles hash to the signed root
    leaf = client.entry(270, opened)  # from its bundle, proven included via tiles
    assert b'"i":269' in leaf


def test_two_registries_witness_each_other(logs) -> None:  # type: ignore[no-untyped-def]
    note_a, refused = cosign(logs, "a")
    assert refused == {}
    _note_b, refused = cosign(logs, "b")
    assert refused == {}
    wa, wb = logs["witness"]["a"], logs["witness"]["b"]
    for name, wit, other in (("a", wb, wa), ("b", wa, wb)):
        tlog = f"{logs['url'][name]}/tlog"
        client = LogClient(tlog, logs["vkey"][name], [wit], min_witnesses=1)
        cp, _ = client.checkpoint()
        assert cp.cosigners == (wit.name,)
        # k-of-n: a second witness that never cosigned leaves it short of 2
        strict = LogClient(tlog, logs["vkey"][name], [wit, other], min_witnesses=2)
        with pytest.raises(VerificationError, match="1 of the 2 witness cosignatures"):
            strict.checkpoint()
    # the log grows; the witness checks the consistency proof and cosigns again
    append(logs["reg"]["a"], 3, "more")
    grown, refused = cosign(logs, "a")
    assert refused == {} and grown.split("\n")[1] == str(int(note_a.split("\n")[1]) + 3)
    state = TrustState(logs["tmp"] / "state.json")
    client = LogClient(f"{logs['url']['a']}/tlog", logs["vkey"]["a"], [wb], 1)
    follow(client, state)
    append(logs["reg"]["a"], 1, "again")
    cosign(logs, "a")
    cp, _ = follow(client, state)  # extends the remembered checkpoint
    assert cp.size == int(grown.split("\n")[1]) + 1


def test_split_view_is_caught_by_the_witness_and_the_client(logs) -> None:  # type: ignore[no-untyped-def]
    a, fork = logs["reg"]["a"], logs["reg"]["fork"]
    base = int(cosign(logs, "a")[0].split("\n")[1])  # both copies share these entries
    append(a, 1, "honest")
    note_a, refused = cosign(logs, "a")
    assert refused == {}
    state = TrustState(logs["tmp"] / "state.json")
    wb = logs["witness"]["b"]
    follow(LogClient(f"{logs['url']['a']}/tlog", logs["vkey"]["a"], [wb], 1), state)

    append(fork, 1, "forked")  # the same size, another entry: the log equivocates
    note_f, refused = cosign(logs, "fork")
    assert "b.example/witness" in refused and refused["b.example/witness"].startswith("409")
    assert note_f.split("\n")[1] == note_a.split("\n")[1] and note_f != note_a

    witness = f"{logs['url']['b']}/witness/add-checkpoint"
    with httpx.Client() as http:
        # from the shared size with a valid proof of the fork's own tree: the witness has
        # moved on, says where it is (409, text/x.tlog.size) ...
        proof = fork.store.log.consistency_proof(base, base + 1)
        r = http.post(witness, content=request_body(base, proof, note_f))
        assert r.status_code == 409 and r.headers["content-type"].startswith("text/x.tlog.size")
        assert r.text == f"{base + 1}\n"
        # ... at the same size, another root is a split view (409) ...
        r = http.post(witness, content=request_body(base + 1, [], note_f))
        assert r.status_code == 409
        # ... and a grown fork's proof does not match what it cosigned (422)
        append(fork, 1, "forked more")
        note_f2 = fork.checkpoint()
        proof = fork.store.log.consistency_proof(base + 1, base + 2)
        r = http.post(witness, content=request_body(base + 1, proof, note_f2))
        assert r.status_code == 422
    # a client that requires the witness refuses the fork's checkpoint ...
    tlog_f = f"{logs['url']['fork']}/tlog"
    with pytest.raises(VerificationError, match="0 of the 1 witness cosignatures"):
        follow(LogClient(tlog_f, logs["vkey"]["a"], [wb], 1), state)
    # ... and one that remembers the honest checkpoint refuses it even without witnesses
    with pytest.raises(VerificationError, match="split view"):
        follow(LogClient(tlog_f, logs["vkey"]["a"]), state)


def test_checkpoint_signed_by_another_key_is_forbidden(logs) -> None:  # type: ignore[no-untyped-def]
    other = ed25519.Ed25519PrivateKey.generate()
    text = "a.example/log\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n"
    from weightwatch.attest.note import sign_note

    note = text + "\n" + sign_note(text, "a.example/log", other).line()
    with httpx.Client() as http:
        r = http.post(
            f"{logs['url']['b']}/witness/add-checkpoint", content=request_body(0, [], note)
        )
        assert r.status_code == 403
        r = http.post(
            f"{logs['url']['b']}/witness/add-checkpoint",
            content=request_body(0, [], note.replace("a.example/log", "c.example/log")),
        )
        assert r.status_code == 404


def test_cli_follow_and_verify_require_witnesses(logs, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from weightwatch.attest.keys import public_pem
    from weightwatch.cli import main

    cosign(logs, "a")
    a = logs["reg"]["a"]
    tlog, vkey = f"{logs['url']['a']}/tlog", logs["vkey"]["a"].vkey()
    wb, wa = logs["witness"]["b"].vkey(), logs["witness"]["a"].vkey()
    state = str(tmp_path / "state.json")
    args = ["log", "follow", tlog, "--key", vkey, "--witness", wb, "--state", state, "--json"]
    assert main([*args, "--min-witnesses", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["cosigners"] == ["b.example/witness"]
    assert main([*args, "--witness", wa, "--min-witnesses", "2"]) != 0
    assert "1 of the 2 witness cosignatures" in capsys.readouterr().err
    # offline: an entry's inclusion under the cosigned checkpoint, k-of-n enforced
    note = a.checkpoint()
    size = int(note.split("\n")[1])
    (tmp_path / "cp").write_text(note)
    (tmp_path / "leaf").write_bytes(a.store.log.entry(5).leaf)
    hashes = [h.hex() for h in a.store.log.inclusion_proof(5, size)]
    (tmp_path / "proof.json").write_text(json.dumps({"index": 5, "hashes": hashes}))
    (tmp_path / "pub.pem").write_bytes(public_pem(a.store.signer.public_key))
    verify = [
        "log",
        "verify",
        "--entry",
        str(tmp_path / "leaf"),
        "--proof",
        str(tmp_path / "proof.json"),
        "--checkpoint",
        str(tmp_path / "cp"),
        "--pub",
        str(tmp_path / "pub.pem"),
        "--witness",
        wb,
    ]
    assert main([*verify, "--min-witnesses", "1"]) == 0
    assert "cosigned by b.example/witness" in capsys.readouterr().out
    assert main([*verify, "--witness", wa, "--min-witnesses", "2"]) != 0


def test_a_standalone_witness_cosigns(logs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from weightwatch.server.witness_app import create_witness_app

    key = ed25519.Ed25519PrivateKey.generate()
    w = Witness(
        "solo.example/w",
        key,
        {"a.example/log": [logs["vkey"]["a"]]},
        f"sqlite:///{tmp_path / 'solo.db'}",
    )
    with serving(create_witness_app(w)) as url:
        endpoint = WitnessEndpoint(url, w.note_key)
        _note, refused = logs["reg"]["a"].cosign_checkpoint([endpoint])
        assert refused == {}
        with httpx.Client() as http:
            assert http.post(f"{url}/add-checkpoint", content=b"x" * 20000).status_code == 413
    opened = LogClient(f"{logs['url']['a']}/tlog", logs["vkey"]["a"], [w.note_key], 1)
    assert opened.checkpoint()[0].cosigners == ("solo.example/w",)


def test_the_server_collects_cosignatures_by_itself(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`serve --ask-witness … --cosign-every S`: a registry whose log grows has its new
    checkpoint cosigned without an operator, and clients requiring the witness accept it."""
    import time

    from weightwatch.server import create_app

    root = tmp_path / "c"
    reg = _registry(root, "c.example/log", 3)
    key = ed25519.Ed25519PrivateKey.generate()
    w = Witness(
        "w.example/c",
        key,
        {"c.example/log": [parse_vkey(reg.log_vkey())]},
        f"sqlite:///{tmp_path / 'wc.db'}",
    )
    from weightwatch.server.witness_app import create_witness_app

    with serving(create_witness_app(w)) as wurl:
        cfg = TlogConfig(witnesses=[WitnessEndpoint(wurl, w.note_key)], cosign_every=0.2)
        with serving(create_app(root, tlog_config=cfg)) as url:
            client = LogClient(f"{url}/tlog", parse_vkey(reg.log_vkey()), [w.note_key], 1)
            for grow in (0, 2):
                append(reg, grow, "loop")
                want = reg.store.log.size()
                deadline = time.monotonic() + 60
                while True:
                    try:
                        cp, _ = client.checkpoint()
                        if cp.size == want:
                            break
                    except VerificationError:
                        pass  # not cosigned yet
                    assert time.monotonic() < deadline, "the loop never cosigned"
                    time.sleep(0.2)
                assert cp.cosigners == ("w.example/c",)
    reg.close()
