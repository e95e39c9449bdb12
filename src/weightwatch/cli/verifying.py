"""The key a command checks signatures with: a public key file, or the registry's own key
(``bom-verify`` and ``oci pull`` take either)."""

from __future__ import annotations

from pathlib import Path

from weightwatch.attest.keys import KeyVerifier


def verifier(pub: Path | None, registry: Path | None, db_url: str | None) -> KeyVerifier:
    from weightwatch.attest import load_verifier

    if pub is not None:
        return load_verifier(pub)
    from weightwatch.registry import Registry

    reg = Registry.open(registry, db_url)
    try:
        return reg.verifier()
    finally:
        reg.close()
