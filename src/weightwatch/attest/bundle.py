"""Signed model bundles: an in-toto Statement v1 in a DSSE envelope, in a Sigstore bundle.

The statement follows OpenSSF model signing's v1.0 predicate (``resources`` = per-file
SHA-256 digests, ``serialization`` = how they were computed) so each tool verifies the
other's bundles. weightwatch adds its weights and value identity under the predicate's
``weightwatch`` key, which v1.0 verifiers are required to ignore.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightwatch.attest.keys import KeySigner, KeyVerifier, Signer, Verifier
from weightwatch.errors import VerificationError
from weightwatch.identity import Manifest, compute_manifest
from weightwatch.identity.manifest import DEFAULT_IGNORE

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
WW_SCHEMA = "1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def statement(manifest: Manifest, *, model_name: str, ignore: Sequence[str]) -> dict[str, Any]:
    if manifest.algorithm != "sha256":
        raise VerificationError("bundles record SHA-256 file digests (OpenSSF model signing v1.0)")
    links = [f.path for f in manifest.files if f.symlink]
    if links:
        raise VerificationError(f"symlinks cannot be signed (allow_symlinks is false): {links[0]}")
    resources = [
        {"name": f.path, "algorithm": "sha256", "digest": f.digest} for f in manifest.files
    ]
    root = hashlib.sha256(b"".join(bytes.fromhex(f.digest) for f in manifest.files)).hexdigest()
    predicate: dict[str, Any] = {
        "serialization": {
            "method": "files",
            "hash_type": "sha256",
            "ignore_paths": list(ignore),
            "allow_symlinks": False,
        },
        "resources": resources,
    }
    if manifest.weights_digest or manifest.value_digest:
        predicate["weightwatch"] = {
            "schema_version": WW_SCHEMA,
            "weights_digest": manifest.weights_digest,
            "value_digest": manifest.value_digest,
            "tensor_count": len(manifest.tensors),
        }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign_statement(stmt: dict[str, Any], signer: Signer) -> dict[str, Any]:
    payload = json.dumps(stmt, indent=2, sort_keys=False).encode()
    sig = signer.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": signer.key_id}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
        },
    }


def sign_model(
    path: str | os.PathLike[str],
    signer: KeySigner,
    *,
    bundle_path: Path | None = None,
    ignore: Sequence[str] = DEFAULT_IGNORE,
    tensors: bool = True,
) -> dict[str, Any]:
    """Hash ``path`` and sign its manifest; the bundle file itself is never hashed."""
    root = Path(path)
    ignore = _with_bundle(root, ignore, bundle_path)
    manifest = compute_manifest(root, tensors=tensors, ignore=ignore)
    return sign_statement(
        statement(manifest, model_name=root.resolve().name, ignore=ignore), signer
    )


def _with_bundle(root: Path, ignore: Sequence[str], bundle_path: Path | None) -> list[str]:
    out = list(ignore)
    if bundle_path is not None and root.is_dir():
        try:
            rel = bundle_path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return out
        if rel not in out:
            out.append(rel)
    return out


@dataclass(frozen=True)
class Verification:
    """What ``verify_model`` found; ``ok`` only if the signature and every digest hold."""

    key_id: str
    model_name: str
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    weights_digest: str | None = None
    weights_ok: bool | None = None  # None: the bundle carries no weightwatch identity

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added) and self.weights_ok is not False


def open_bundle(
    bundle: dict[str, Any],
    verifier: Verifier,
    *,
    predicate_types: Collection[str] = (PREDICATE_TYPE,),
) -> dict[str, Any]:
    """Check the envelope's signature and return the statement it carries (an in-toto
    statement whose predicate type is one of ``predicate_types``)."""
    try:
        env = bundle["dsseEnvelope"]
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = env["signatures"]
        hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"not a DSSE bundle: {exc}") from exc
    if hint and hint != verifier.key_id:
        raise VerificationError("bundle was signed by another key (public key hint differs)")
    if env.get("payloadType") != PAYLOAD_TYPE or not sigs:
        raise VerificationError("bundle does not carry a signed in-toto statement")
    errors = []
    for s in sigs:
        try:
            verifier.verify(pae(PAYLOAD_TYPE, payload), base64.b64decode(s["sig"]))
            break
        except (VerificationError, KeyError, ValueError) as exc:
            errors.append(str(exc))
    else:
        raise VerificationError(f"bundle signature invalid: {errors[0]}")
    try:
        stmt: dict[str, Any] = json.loads(payload)
    except ValueError as exc:
        raise VerificationError("signed payload is not JSON") from exc
    if stmt.get("_type") != STATEMENT_TYPE or stmt.get("predicateType") not in predicate_types:
        raise VerificationError(
            f"signed payload is not an in-toto statement of {', '.join(predicate_types)}"
        )
    return stmt


def verify_model(
    path: str | os.PathLike[str],
    bundle: dict[str, Any],
    verifier: KeyVerifier,
    *,
    bundle_path: Path | None = None,
) -> Verification:
    """Verify the signature, then re-hash ``path`` as the bundle says and compare."""
    stmt = open_bundle(bundle, verifier)
    pred = stmt.get("predicate", {})
    ser = pred.get("serialization", {})
    if ser.get("method") != "files" or ser.get("hash_type") != "sha256":
        raise VerificationError(f"unsupported serialization {ser!r}")
    resources = pred.get("resources", [])
    signed = {r["name"]: r["digest"] for r in resources}
    root_digest = hashlib.sha256(
        b"".join(bytes.fromhex(r["digest"]) for r in resources)
    ).hexdigest()
    subject = stmt["subject"][0]
    if subject["digest"].get("sha256") != root_digest:
        raise VerificationError(
            "statement is inconsistent: subject digest does not cover its resources"
        )
    ww = pred.get("weightwatch")
    root = Path(path)
    ignore = _with_bundle(root, ser.get("ignore_paths", []), bundle_path)
    now = compute_manifest(root, tensors=ww is not None, ignore=ignore)
    have = {f.path: f.digest for f in now.files}
    weights_ok = None if ww is None else (ww.get("weights_digest") == now.weights_digest)
    return Verification(
        key_id=verifier.key_id,
        model_name=str(subject.get("name")),
        changed=sorted(p for p in signed.keys() & have.keys() if signed[p] != have[p]),
        missing=sorted(signed.keys() - have.keys()),
        added=sorted(have.keys() - signed.keys()),
        weights_digest=None if ww is None else ww.get("weights_digest"),
        weights_ok=weights_ok,
    )
