"""Log entries and signed checkpoints (C2SP signed-note format), verifiable offline.

A checkpoint is the text ``<origin>\\n<size>\\n<base64 root>\\n`` followed by a blank line
and signature lines ``— <name> <base64(key hash[4] || Ed25519 signature)>``, as used by
Go's transparency-dev tooling and Sigstore's Rekor v2, so existing witnesses can read it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.attest.keys import KeySigner, KeyVerifier
from weightwatch.attest.note import key_id as note_key_id
from weightwatch.errors import VerificationError
from weightwatch.merkle import leaf_hash, verify_inclusion

ENTRY_KINDS = (
    "registration",
    "decision",
    "takedown",
    "reinstatement",
    "key_change",
    "test",
    "audit",
)
LEAF_SCHEMA = "1"
EM_DASH = "\u2014"


def entry_leaf(kind: str, body: dict[str, Any], *, time: str) -> bytes:
    """The canonical bytes of a log entry: sorted-key, compact, UTF-8 JSON."""
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown log entry kind {kind!r}")
    doc = {"schema_version": LEAF_SCHEMA, "kind": kind, "time": time, "body": body}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


def _note_key_hash(name: str, key: ed25519.Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return note_key_id(name, "ed25519", raw)


def sign_checkpoint(cp: Checkpoint, signer: KeySigner, *, name: str | None = None) -> str:
    """The signed note text of ``cp``. Checkpoints are signed with Ed25519 (the note standard)."""
    pub = signer.public_key
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise VerificationError("checkpoints are signed with Ed25519 keys (signed-note format)")
    name = name or cp.origin
    sig = signer.sign(cp.body())
    line = f"{EM_DASH} {name} {base64.b64encode(_note_key_hash(name, pub) + sig).decode()}\n"
    return cp.body().decode() + "\n" + line


def verify_checkpoint(note: str, verifier: KeyVerifier, *, name: str | None = None) -> Checkpoint:
    """Parse a signed note and check a signature by ``verifier``; raise if none verifies."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise VerificationError("checkpoint has no signature block")
    lines = body.split("\n")
    if len(lines) < 3:
        raise VerificationError("checkpoint body must have origin, size and root lines")
    origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    try:
        size = int(size_s)
        root = base64.b64decode(root_b64, validate=True)
    except ValueError as exc:
        raise VerificationError(f"malformed checkpoint: {exc}") from exc
    if size < 0 or str(size) != size_s or len(root) != 32:
        raise VerificationError("malformed checkpoint size or root")
    pub = verifier.public_key
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise VerificationError("checkpoint keys are Ed25519")
    want_name = name or origin
    key_hash = _note_key_hash(want_name, pub)
    signed = (body + "\n").encode()
    for line in sigs.strip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != want_name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != key_hash:
            continue
        verifier.verify(signed, blob[4:])
        return Checkpoint(origin, size, root)
    raise VerificationError(f"checkpoint carries no signature by key {verifier.key_id[:16]}…")


def checkpoint_size(note: str) -> int:
    """The tree size a checkpoint states, unverified: for asking for a proof against the
    note one was just handed, never for trusting it (use :func:`verify_checkpoint`)."""
    lines = note.split("\n")
    if len(lines) < 2 or not lines[1].isdigit():
        raise VerificationError("malformed checkpoint: no size line")
    return int(lines[1])


def verify_entry_offline(
    leaf: bytes, index: int, proof: list[bytes], note: str, verifier: KeyVerifier
) -> Checkpoint:
    """Everything a relying party checks with no access to the log: the checkpoint's
    signature, then the entry's inclusion under the checkpoint's root."""
    cp = verify_checkpoint(note, verifier)
    verify_inclusion(leaf_hash(leaf), index, cp.size, proof, cp.root)
    return cp
