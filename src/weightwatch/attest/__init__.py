"""Attestation: signing keys, signed model bundles (DSSE / in-toto, OpenSSF-compatible)
and the transparency log."""

from weightwatch.attest.bundle import Verification, open_bundle, sign_model, verify_model
from weightwatch.attest.keys import (
    KEY_TYPES,
    KeySigner,
    KeyVerifier,
    generate,
    load_signer,
    load_verifier,
    save_keypair,
)

__all__ = [
    "KEY_TYPES",
    "KeySigner",
    "KeyVerifier",
    "Verification",
    "generate",
    "load_signer",
    "load_verifier",
    "open_bundle",
    "save_keypair",
    "sign_model",
    "verify_model",
]
