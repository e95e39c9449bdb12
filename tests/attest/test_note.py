"""Signed notes and cosignatures against the published vectors: Go's sumdb/note example
(golang.org/x/mod/sumdb/note) and the C2SP signed-note verifier-key example."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.attest.checkpoint import Checkpoint, sign_checkpoint
from weightwatch.attest.keys import KeySigner
from weightwatch.attest.note import (
    NoteKey,
    cosign,
    open_checkpoint,
    parse_vkey,
    sign_note,
    split_note,
    verified_keys,
)
from weightwatch.errors import UsageError, VerificationError

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6T"
    "fXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def go_key() -> ed25519.Ed25519PrivateKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[0] == 1
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_go_sumdb_note_vector_is_reproduced_byte_for_byte() -> None:
    key = go_key()
    assert sign_note(GO_TEXT, "PeterNeumann", key).line() == GO_SIG
    assert NoteKey.of("PeterNeumann", key.public_key()).vkey() == GO_VKEY
    assert verified_keys(GO_TEXT + "\n" + GO_SIG, [parse_vkey(GO_VKEY)]) == {
        parse_vkey(GO_VKEY): None
    }


def test_checkpoints_are_go_compatible_notes() -> None:
    """The log's existing checkpoint signer writes exactly what sumdb/note would."""
    cp = Checkpoint("PeterNeumann", 3, b"\1" * 32)
    note = sign_checkpoint(cp, KeySigner(go_key(), "k"))
    assert (
        note
        == cp.body().decode()
        + "\n"
        + sign_note(cp.body().decode(), "PeterNeumann", go_key()).line()
    )
    assert open_checkpoint(note, parse_vkey(GO_VKEY)).size == 3


def test_spec_verifier_key_example() -> None:
    key = parse_vkey(SPEC_VKEY)
    assert key.key_id.hex() == "530d903a" and key.vkey() == SPEC_VKEY
    assert key in verified_keys(SPEC_NOTE, [key])
    tampered = SPEC_NOTE.replace("example message", "examp1e message")
    with pytest.raises(VerificationError, match="does not verify"):
        verified_keys(tampered, [key])


@pytest.mark.parametrize(
    "bad",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong id
        "example.com/foo+530d903a+BekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type
        "example.com/foo+530d903a",
        "ex ample+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
)
def test_malformed_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_vkey(bad)


def test_cosignature_format_and_k_of_n() -> None:
    log = ed25519.Ed25519PrivateKey.generate()
    text = "log.example/a\n7\n" + base64.b64encode(b"\2" * 32).decode() + "\n"
    note = text + "\n" + sign_note(text, "log.example/a", log).line()
    w1, w2 = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    c1 = cosign(text, "w1.example", w1, 1679315147)
    assert c1.signature[:8] == (1679315147).to_bytes(8, "big") and len(c1.signature) == 72
    k1 = NoteKey.of("w1.example", w1.public_key(), "cosignature")
    k2 = NoteKey.of("w2.example", w2.public_key(), "cosignature")
    assert base64.b64decode(k1.vkey().split("+", 2)[2])[0] == 0x04
    msg = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    w1.public_key().verify(c1.signature[8:], msg)  # the exact signed message of the spec
    log_key = NoteKey.of("log.example/a", log.public_key())
    cosigned = note + c1.line()
    assert open_checkpoint(cosigned, log_key, witnesses=[k1, k2], min_witnesses=1).cosigners == (
        "w1.example",
    )
    with pytest.raises(VerificationError, match="1 of the 2"):
        open_checkpoint(cosigned, log_key, witnesses=[k1, k2], min_witnesses=2)
    both = cosigned + cosign(text, "w2.example", w2, 5).line()
    assert len(open_checkpoint(both, log_key, witnesses=[k1, k2], min_witnesses=2).cosigners) == 2
    # a cosignature cannot be replayed as the log's own signature, nor over another text
    forged = text + "\n" + c1.line()
    with pytest.raises(VerificationError, match="not signed by the log"):
        open_checkpoint(forged, log_key, witnesses=[k1], min_witnesses=1)
    other = text.replace("\n7\n", "\n8\n")
    with pytest.raises(VerificationError):
        open_checkpoint(
            other + "\n" + sign_note(other, "log.example/a", log).line() + c1.line(),
            log_key,
            witnesses=[k1],
            min_witnesses=1,
        )


@pytest.mark.parametrize(
    "note",
    [
        "no signatures\n",
        "text\n\n",
        "text\n\nnot a signature line\n",
        "text\n\n\u2014 name !!!\n",
        "te\x01xt\n\n\u2014 name AAAAAAAA\n",
        "text\n\n\u2014 name AAAAAAAA",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(VerificationError):
        split_note(note)
