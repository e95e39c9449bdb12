"""The witness's decisions, one per status the C2SP tlog-witness spec names."""

from __future__ import annotations

import base64
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.attest.note import NoteKey, open_checkpoint, sign_note
from weightwatch.attest.witness import Witness, WitnessRefusal, parse_request, request_body
from weightwatch.merkle import MerkleTree, leaf_hash

ORIGIN = "log.example/w"


def note(tree: MerkleTree, size: int, key: ed25519.Ed25519PrivateKey) -> str:
    text = f"{ORIGIN}\n{size}\n{base64.b64encode(tree.root(size)).decode()}\n"
    return text + "\n" + sign_note(text, ORIGIN, key).line()


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    log = ed25519.Ed25519PrivateKey.generate()
    w = Witness(
        "witness.example/w",
        ed25519.Ed25519PrivateKey.generate(),
        {ORIGIN: [NoteKey.of(ORIGIN, log.public_key())]},
        f"sqlite:///{tmp_path / 'w.db'}",
        clock=lambda: 1700000000.0,
    )
    tree = MerkleTree([leaf_hash(bytes([i])) for i in range(20)])
    fork = MerkleTree([leaf_hash(bytes([i])) for i in range(10)] + [leaf_hash(b"x")] * 10)
    return w, log, tree, fork


def status(w: Witness, body: bytes) -> int:
    with pytest.raises(WitnessRefusal) as err:
        w.add_checkpoint(body)
    return err.value.status


def test_cosigns_growth_and_refuses_everything_else(setup) -> None:  # type: ignore[no-untyped-def]
    w, log, tree, fork = setup
    line = w.add_checkpoint(request_body(0, [], note(tree, 8, log)))
    cosigned = note(tree, 8, log) + line
    opened = open_checkpoint(
        cosigned, NoteKey.of(ORIGIN, log.public_key()), witnesses=[w.note_key], min_witnesses=1
    )
    assert opened.size == 8 and w.latest(ORIGIN) == (8, tree.root(8))
    assert status(w, request_body(0, [], note(tree, 12, log))) == 409  # witness is at 8
    ok = request_body(8, tree.consistency_proof(8, 12), note(tree, 12, log))
    assert w.add_checkpoint(ok).startswith("\u2014 witness.example/w ")
    assert w.add_checkpoint(request_body(12, [], note(tree, 12, log)))  # same head again
    # split view: the fork shares the first 10 leaves, then diverges
    assert status(w, request_body(12, [], note(fork, 12, log))) == 409
    assert status(w, request_body(12, fork.consistency_proof(12, 15), note(fork, 15, log))) == 422
    assert status(w, request_body(12, [], note(tree, 10, log))) == 400  # old > size
    assert w.latest(ORIGIN) == (12, tree.root(12))  # nothing refused moved the witness


def test_409_says_the_witness_size(setup) -> None:  # type: ignore[no-untyped-def]
    w, log, tree, _ = setup
    w.add_checkpoint(request_body(0, [], note(tree, 5, log)))
    with pytest.raises(WitnessRefusal) as err:
        w.add_checkpoint(request_body(3, tree.consistency_proof(3, 9), note(tree, 9, log)))
    assert (err.value.status, err.value.body, err.value.content_type) == (
        409,
        "5\n",
        "text/x.tlog.size",
    )


def test_unknown_origin_and_untrusted_key(setup) -> None:  # type: ignore[no-untyped-def]
    w, _log, tree, _ = setup
    other = ed25519.Ed25519PrivateKey.generate()
    assert status(w, request_body(0, [], note(tree, 3, other))) == 403
    alien = note(tree, 3, other).replace(ORIGIN, "other.example/x")
    assert status(w, request_body(0, [], alien)) == 404


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",
        b"old -1\n\nx",
        b"old 01\n\nx",
        b"new 1\n\nx",
        b"\xff\xfe",
        b"old 0\nnot base64!\n\nx",
        b"old 0\n" + b"AAAA\n" + b"\nx",
        ("old 0\n" + "A" * 43 + "=\n").encode() * 64 + b"\nx",
    ],
)
def test_malformed_requests_are_400(body: bytes) -> None:
    with pytest.raises(WitnessRefusal) as err:
        parse_request(body)
    assert err.value.status == 400


def test_concurrent_requests_never_roll_the_witness_back(setup) -> None:  # type: ignore[no-untyped-def]
    w, log, tree, _ = setup
    w.add_checkpoint(request_body(0, [], note(tree, 4, log)))
    results: list[object] = []

    def submit(size: int) -> None:
        body = request_body(4, tree.consistency_proof(4, size), note(tree, size, log))
        try:
            results.append(w.add_checkpoint(body))
        except WitnessRefusal as exc:
            results.append(exc.status)

    threads = [threading.Thread(target=submit, args=(s,)) for s in (6, 9, 12, 15)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, str) for r in results) == 1  # one wins, the rest see 409
    assert sorted(r for r in results if isinstance(r, int)) == [409, 409, 409]
    assert w.latest(ORIGIN)[0] in {6, 9, 12, 15}
