"""Signing keys: Ed25519 and ECDSA P-256, PEM on disk, one-method signer/verifier objects.

The signer/verifier interface is deliberately tiny so that keyless (Sigstore) signing can
be added later as another implementation without touching callers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from weightwatch.errors import UsageError, VerificationError

KeyType = Literal["ed25519", "ecdsa-p256"]
KEY_TYPES: tuple[KeyType, ...] = ("ed25519", "ecdsa-p256")
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class Verifier(Protocol):
    @property
    def key_id(self) -> str: ...

    def verify(self, message: bytes, signature: bytes) -> None: ...


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: PublicKey) -> str:
    """SHA-256 of the PEM public key, hex: the hint OpenSSF model signing bundles carry."""
    return hashlib.sha256(public_pem(key)).hexdigest()


def key_type(key: PublicKey) -> KeyType:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return "ecdsa-p256"
    raise UsageError("only Ed25519 and ECDSA P-256 keys are supported")


@dataclass(frozen=True)
class KeySigner:
    private_key: PrivateKey
    key_id: str

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(message)
        return self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True)
class KeyVerifier:
    public_key: PublicKey
    key_id: str

    def verify(self, message: bytes, signature: bytes) -> None:
        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(signature, message)
            else:
                self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise VerificationError(
                f"signature does not verify with key {self.key_id[:16]}…"
            ) from exc


def generate(kind: KeyType = "ed25519") -> KeySigner:
    if kind == "ed25519":
        priv: PrivateKey = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ecdsa-p256":
        priv = ec.generate_private_key(ec.SECP256R1())
    else:
        raise UsageError(f"unknown key type {kind!r}; choose from {', '.join(KEY_TYPES)}")
    return KeySigner(priv, key_id(priv.public_key()))


def save_keypair(signer: KeySigner, private_path: Path, *, password: bytes | None = None) -> Path:
    """Write the private key (mode 0600) and ``<name>.pub``; returns the public key path."""
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    )
    private_path.write_bytes(data)
    private_path.chmod(0o600)
    pub = private_path.with_suffix(".pub")
    pub.write_bytes(public_pem(signer.public_key))
    return pub


def load_signer(path: Path, *, password: bytes | None = None) -> KeySigner:
    try:
        priv = serialization.load_pem_private_key(path.read_bytes(), password)
    except (ValueError, TypeError, OSError) as exc:
        raise UsageError(f"{path}: not a usable PEM private key ({exc})") from exc
    if not isinstance(priv, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise UsageError(f"{path}: only Ed25519 and ECDSA P-256 keys are supported")
    key_type(priv.public_key())
    return KeySigner(priv, key_id(priv.public_key()))


def load_verifier(path: Path) -> KeyVerifier:
    try:
        pub = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a usable PEM public key ({exc})") from exc
    if not isinstance(pub, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UsageError(f"{path}: only Ed25519 and ECDSA P-256 keys are supported")
    key_type(pub)
    return KeyVerifier(pub, key_id(pub))
