"""Model fingerprints from weights alone, invariant to function-preserving evasion."""

from weightwatch.fingerprint.compute import fingerprint
from weightwatch.fingerprint.model import FORMAT, KINDS, VERSION, Fingerprint

__all__ = ["FORMAT", "KINDS", "VERSION", "Fingerprint", "fingerprint"]
