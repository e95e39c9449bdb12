"""Detached BOM signatures: a DSSE envelope (in a Sigstore bundle v0.3, like the
registry's model bundles) around an in-toto Statement v1 whose subject is the SHA-256
of the BOM file's exact bytes and whose predicate type is the format's in-toto
predicate (``https://cyclonedx.org/bom``, ``https://spdx.dev/Document``).

DSSE rather than CycloneDX's embedded JSF: one mechanism for both formats, the
document stays byte-identical to what the schemas validate, and every DSSE verifier
(cosign, in-toto, ``weightwatch bom-verify``) can check it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from weightwatch.attest.bundle import STATEMENT_TYPE, open_bundle, sign_statement
from weightwatch.attest.keys import Signer, Verifier
from weightwatch.errors import VerificationError

PREDICATE_TYPES = {
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdx": "https://spdx.dev/Document",
}


def statement(data: bytes, *, fmt: str, model: str, weights_digest: str | None) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{model} AI-BOM", "digest": {"sha256": _sha256(data)}}],
        "predicateType": PREDICATE_TYPES[fmt],
        "predicate": {"model": model, "format": fmt, "weights_digest": weights_digest},
    }


def sign_bom(
    data: bytes, signer: Signer, *, fmt: str, model: str, weights_digest: str | None
) -> dict[str, Any]:
    """A detached signature bundle over the BOM file's bytes."""
    stmt = statement(data, fmt=fmt, model=model, weights_digest=weights_digest)
    return sign_statement(stmt, signer)


def verify_bom(data: bytes, bundle: dict[str, Any], verifier: Verifier) -> dict[str, Any]:
    """Check the signature and that it covers exactly ``data``; return the statement."""
    stmt = open_bundle(bundle, verifier, predicate_types=tuple(PREDICATE_TYPES.values()))
    try:
        signed = stmt["subject"][0]["digest"]["sha256"]
    except (KeyError, IndexError, TypeError) as exc:
        raise VerificationError("BOM statement has no subject digest") from exc
    if signed != _sha256(data):
        raise VerificationError("the BOM is not the one that was signed (SHA-256 differs)")
    return stmt


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = ["PREDICATE_TYPES", "sign_bom", "statement", "verify_bom"]
