"""C2SP signed notes: verifier keys, Ed25519 note signatures and witness cosignatures.

The wire formats are those of ``c2sp.org/signed-note`` (Go's ``golang.org/x/mod/sumdb/note``)
and ``c2sp.org/tlog-cosignature`` (Ed25519 ``cosignature/v1``, signature type ``0x04``):

* a note is UTF-8 text ending in a newline, a blank line, then signature lines
  ``— <name> base64(key ID[4] || signature)``;
* key ID = ``SHA-256(name || "\\n" || type || public key)[:4]``;
* a verifier key is ``<name>+<hex key ID>+base64(type || public key)``;
* a cosignature signs ``"cosignature/v1\\ntime <T>\\n" || checkpoint text`` and carries
  ``T`` as a big-endian u64 before the Ed25519 signature.

A client trusts a checkpoint only when the log's own signature verifies and at least
``min_witnesses`` of the witness keys it was given cosigned it (:func:`open_checkpoint`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.errors import UsageError, VerificationError

EM_DASH = "\u2014"
ED25519 = 0x01  # note signature by the signer of the text (a log's checkpoint signature)
COSIGNATURE = 0x04  # timestamped Ed25519 witness cosignature (tlog-cosignature v1)
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
KeyKind = Literal["ed25519", "cosignature"]
_KINDS: dict[int, KeyKind] = {ED25519: "ed25519", COSIGNATURE: "cosignature"}
_TYPES = {v: k for k, v in _KINDS.items()}
_NAME = re.compile(r"^[^\s+]+\Z")  # non-empty, no Unicode spaces, no '+'
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, kind: KeyKind, public_raw: bytes) -> bytes:
    """The 4-byte key ID of ``name``'s key of signature type ``kind``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([_TYPES[kind]]) + public_raw).digest()[:4]


@dataclass(frozen=True)
class NoteKey:
    """A public key as a note verifier knows it: name, signature type and the key."""

    name: str
    kind: KeyKind
    public_raw: bytes

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"note key name {self.name!r} is empty or has spaces or '+'")
        if len(self.public_raw) != 32:
            raise UsageError("note keys are 32-byte Ed25519 public keys")

    @classmethod
    def of(cls, name: str, key: ed25519.Ed25519PublicKey, kind: KeyKind = "ed25519") -> NoteKey:
        return cls(name, kind, _raw(key))

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.kind, self.public_raw)

    def vkey(self) -> str:
        """The verifier key string ``name+keyid+base64(type||key)``."""
        blob = base64.b64encode(bytes([_TYPES[self.kind]]) + self.public_raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public_raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(text: str) -> NoteKey:
    """A verifier key from its string form; ``UsageError`` names what is wrong with it."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise UsageError(f"{text!r} is not a verifier key (NAME+KEYID+BASE64KEY)")
    name, hex_id, blob_b64 = parts
    try:
        blob = base64.b64decode(blob_b64, validate=True)
        want = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"verifier key {text!r}: {exc}") from exc
    if len(hex_id) != 8 or not blob or blob[0] not in _KINDS:
        raise UsageError(f"verifier key {text!r}: not an Ed25519 (0x01) or cosignature (0x04) key")
    key = NoteKey(name, _KINDS[blob[0]], blob[1:])
    if key.key_id != want:
        raise UsageError(f"verifier key {text!r}: key ID does not match the key")
    return key


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: bytes
    signature: bytes  # after the key ID (a cosignature: timestamp || Ed25519 signature)

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """The text (with its final newline) and signature lines of a signed note, strictly."""
    if _CONTROL.search(note):
        raise VerificationError("signed note holds control characters")
    if not note.endswith("\n"):
        raise VerificationError("signed note does not end in a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("signed note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise VerificationError("signed note carries no signature")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"signed note carries over {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not _NAME.match(parts[1]):
            raise VerificationError(f"malformed note signature line {line[:60]!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise VerificationError(f"note signature is not base64: {exc}") from exc
        if len(blob) < 5:
            raise VerificationError("note signature is too short")
        sigs.append(SignatureLine(parts[1], blob[:4], blob[4:]))
    return text, sigs


def sign_note(text: str, name: str, key: ed25519.Ed25519PrivateKey) -> SignatureLine:
    """A note signature (type 0x01) by ``key`` under ``name`` over ``text``."""
    kid = key_id(name, "ed25519", _raw(key.public_key()))
    return SignatureLine(name, kid, key.sign(text.encode()))


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(text: str, name: str, key: ed25519.Ed25519PrivateKey, timestamp: int) -> SignatureLine:
    """A tlog-cosignature/v1 line by witness ``name`` over checkpoint ``text``."""
    if not 0 <= timestamp < 1 << 63:
        raise UsageError(f"cosignature timestamp {timestamp} out of range")
    kid = key_id(name, "cosignature", _raw(key.public_key()))
    sig = key.sign(cosigned_message(text, timestamp))
    return SignatureLine(name, kid, struct.pack(">Q", timestamp) + sig)


def verified_keys(note: str, keys: list[NoteKey]) -> dict[NoteKey, int | None]:
    """Which of ``keys`` signed ``note`` (cosigners with their timestamps).

    Lines from unknown keys are ignored; a line whose name and key ID match a known key
    but whose signature fails rejects the whole note, as the spec advises.
    """
    text, sigs = split_note(note)
    known = {(k.name, k.key_id): k for k in keys}
    found: dict[NoteKey, int | None] = {}
    for s in sigs:
        key = known.get((s.name, s.key_id))
        if key is None:
            continue
        if key.kind == "cosignature":
            if len(s.signature) != 72:
                raise VerificationError(f"cosignature by {s.name} has the wrong length")
            (ts,) = struct.unpack(">Q", s.signature[:8])
            ok = ts < 1 << 63 and key.verify(cosigned_message(text, ts), s.signature[8:])
        else:
            ts, ok = None, len(s.signature) == 64 and key.verify(text.encode(), s.signature)
        if not ok:
            raise VerificationError(f"the signature by {s.name} ({s.key_id.hex()}) does not verify")
        found[key] = ts
    return found


@dataclass(frozen=True)
class OpenedCheckpoint:
    origin: str
    size: int
    root: bytes
    text: str
    cosigners: tuple[str, ...]  # the witnesses whose cosignatures verified


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """Origin, size and root hash of a checkpoint body (extension lines allowed)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise VerificationError("checkpoint body must have origin, size and root lines")
    origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise VerificationError("malformed checkpoint origin or size line")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise VerificationError(f"malformed checkpoint root: {exc}") from exc
    if len(root) != 32:
        raise VerificationError("checkpoint root hash is not 32 bytes")
    return origin, int(size_s), root


def open_checkpoint(
    note: str,
    log_key: NoteKey,
    *,
    witnesses: Sequence[NoteKey] = (),
    min_witnesses: int = 0,
) -> OpenedCheckpoint:
    """A checkpoint that the log signed and at least ``min_witnesses`` of ``witnesses``
    cosigned; ``VerificationError`` saying which is missing otherwise."""
    if min_witnesses > len(witnesses):
        raise UsageError(f"--min-witnesses {min_witnesses} exceeds the {len(witnesses)} given")
    if any(w.kind != "cosignature" for w in witnesses):
        raise UsageError("witness keys are cosignature (type 0x04) verifier keys")
    found = verified_keys(note, [log_key, *witnesses])
    if log_key not in found:
        raise VerificationError(f"checkpoint is not signed by the log key {log_key.name}")
    text, _ = split_note(note)
    origin, size, root = parse_checkpoint_text(text)
    if origin != log_key.name:
        raise VerificationError(f"checkpoint origin {origin!r} is not the log {log_key.name!r}")
    cosigners = tuple(sorted(k.name for k in found if k.kind == "cosignature"))
    if len(cosigners) < min_witnesses:
        raise VerificationError(
            f"checkpoint has {len(cosigners)} of the {min_witnesses} witness cosignatures "
            f"required ({', '.join(cosigners) or 'none'})"
        )
    return OpenedCheckpoint(origin, size, root, text, cosigners)
