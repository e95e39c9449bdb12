"""The error hierarchy: the library raises these, the CLI maps them to exit codes.

::

    WeightwatchError
     ├── ArtifactError        a model artifact cannot be read (corrupt, truncated, refused)
     ├── ScanError            the scanner itself could not run (not: "the file is malicious")
     ├── VerificationError    a signature, digest or log proof does not check out
     ├── PolicyError          a policy file is invalid
     ├── RegistryError        the registry refused an operation (conflict, not found)
     ├── AccessDenied         the caller may not do this
     │    └── TooManyAttempts  refused for now after too many failures (retry later)
     ├── UsageError           the caller asked for something impossible (bad option values)
     └── ServiceError         the environment failed: database, port, disk, a missing extra

Every error carries a message a user can act on; ``diagnostics()`` adds a remediation
hint where one exists. Callers can tell tampering (``VerificationError``) from bad input
(``ArtifactError``) without parsing strings.
"""

from __future__ import annotations

from pathlib import Path


class WeightwatchError(Exception):
    """Base of every error weightwatch raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def diagnostics(self) -> str:
        """The message plus a remediation hint, for humans."""
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class ArtifactError(WeightwatchError):
    """A model artifact (file or folder) cannot be read as what it claims to be.

    ``path`` names the file; ``member`` an entry inside an archive where relevant.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        member: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.member = member
        self.problem = problem
        where = f"{self.path}:{member}" if member else self.path
        super().__init__(f"{where}: {problem}", hint=hint)


class ScanError(WeightwatchError):
    """The scanner could not run at all (bad arguments, missing paths)."""


class VerificationError(WeightwatchError):
    """A digest, signature or transparency-log proof failed to verify."""


class PolicyError(WeightwatchError):
    """A policy file or rule is invalid."""


class RegistryError(WeightwatchError):
    """The registry refused an operation (unknown model, conflict, bad state)."""


class AccessDenied(WeightwatchError):
    """The caller is not allowed to perform this operation."""


class TooManyAttempts(AccessDenied):
    """Refused for a while after too many failed attempts (sign-ins): wait, then retry."""


class UsageError(WeightwatchError):
    """Arguments that cannot work together or values out of range."""


class ServiceError(WeightwatchError):
    """The environment failed, not the input: a database or port unavailable, a full
    disk, a missing optional extra. The CLI exits 3 on it."""


__all__ = [
    "AccessDenied",
    "ArtifactError",
    "PolicyError",
    "RegistryError",
    "ScanError",
    "ServiceError",
    "TooManyAttempts",
    "UsageError",
    "VerificationError",
    "WeightwatchError",
]
