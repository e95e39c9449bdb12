"""Watermark keys: one master secret per publisher, one derived key per deployment.

The master secret (32 random bytes) lives in a small JSON file. Per-deployment keys
are derived with HKDF-SHA256 from (master, deployment, scheme, rotation), so rotating
or retiring one deployment never touches another. Reports carry only the *key id*, a
one-way digest of the derived key; raw key bytes never appear in a repr or in JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from weightwatch.errors import ArtifactError, UsageError

MASTER_FORMAT = "weightwatch-watermark-master/1"
_HKDF_SALT = b"weightwatch/watermark/v1"
_ID_PREFIX = b"weightwatch/watermark/key-id\x00"
_INTEGER_PREFIX = b"weightwatch/watermark/integer-key\x00"
SECRET_BYTES = 32


def _key_id(material: bytes) -> str:
    return hashlib.sha256(_ID_PREFIX + material).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class MasterSecret:
    """A publisher's root secret. Keep it offline; derive deployment keys from it."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != SECRET_BYTES:
            raise UsageError(f"a master secret is {SECRET_BYTES} bytes, not {len(self.material)}")

    @classmethod
    def generate(cls) -> MasterSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))

    @property
    def key_id(self) -> str:
        return _key_id(self.material)

    def __repr__(self) -> str:
        return f"MasterSecret(key_id={self.key_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterSecret):
            return NotImplemented
        return hmac.compare_digest(self.material, other.material)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def derive(self, deployment: str, *, scheme: str, rotation: int = 0) -> WatermarkKey:
        """The key of one deployment of one scheme; deterministic in all four inputs."""
        if not deployment or rotation < 0:
            raise UsageError("a deployment needs a non-empty name and a rotation counter >= 0")
        info = json.dumps(
            {"deployment": deployment, "rotation": rotation, "scheme": scheme},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=SECRET_BYTES, salt=_HKDF_SALT, info=info)
        return WatermarkKey(
            material=hkdf.derive(self.material),
            deployment=deployment,
            scheme=scheme,
            rotation=rotation,
        )

    def save(self, path: str | Path) -> None:
        """Write the secret as JSON, readable by the owner only; refuses to overwrite."""
        doc = {
            "format": MASTER_FORMAT,
            "key_id": self.key_id,
            "secret": base64.b64encode(self.material).decode(),
        }
        p = Path(path)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise UsageError(f"{p} exists; refusing to overwrite a master secret") from exc
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")

    @classmethod
    def load(cls, path: str | Path) -> MasterSecret:
        p = Path(path)
        try:
            doc = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(p, f"cannot read master secret: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != MASTER_FORMAT:
            raise ArtifactError(p, f"not a {MASTER_FORMAT} file")
        try:
            material = base64.b64decode(str(doc["secret"]), validate=True)
        except (KeyError, binascii.Error) as exc:
            raise ArtifactError(p, "master secret field missing or not base64") from exc
        if len(material) != SECRET_BYTES:
            raise ArtifactError(p, f"master secret must be {SECRET_BYTES} bytes")
        secret = cls(material)
        if doc.get("key_id") not in (None, secret.key_id):
            raise ArtifactError(p, "key_id does not match the secret (file edited or corrupt)")
        return secret


@dataclass(frozen=True, eq=False)
class WatermarkKey:
    """A derived key for one (deployment, scheme, rotation). ``key_id`` is public."""

    material: bytes = field(repr=False)
    deployment: str
    scheme: str
    rotation: int = 0

    def __post_init__(self) -> None:
        if len(self.material) < 16:
            raise UsageError("watermark key material must be at least 16 bytes")

    @classmethod
    def from_integer(
        cls, hashing_key: int, *, deployment: str = "integer-key", scheme: str = "kgw-hf"
    ) -> WatermarkKey:
        """Wrap an integer ``hashing_key`` (as in transformers' ``WatermarkingConfig``).

        The integer is the secret: it is not written into ``deployment`` or the key id.
        """
        if not 0 < hashing_key < 2**62:
            raise UsageError("an integer hashing key must lie in [1, 2**62)")
        material = hashing_key.to_bytes(8, "little") + _INTEGER_PREFIX[:8]
        return cls(material=material, deployment=deployment, scheme=scheme)

    @property
    def key_id(self) -> str:
        return _key_id(self.material)

    def __repr__(self) -> str:
        return (
            f"WatermarkKey(key_id={self.key_id!r}, deployment={self.deployment!r}, "
            f"scheme={self.scheme!r}, rotation={self.rotation})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WatermarkKey):
            return NotImplemented
        return hmac.compare_digest(self.material, other.material) and (
            (self.deployment, self.scheme, self.rotation)
            == (other.deployment, other.scheme, other.rotation)
        )

    def __hash__(self) -> int:
        return hash(self.key_id)

    def public(self) -> dict[str, str | int]:
        """What a report may say about this key."""
        return {
            "key_id": self.key_id,
            "deployment": self.deployment,
            "scheme": self.scheme,
            "rotation": self.rotation,
        }


__all__ = ["MASTER_FORMAT", "MasterSecret", "WatermarkKey"]
