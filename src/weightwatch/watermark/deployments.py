"""Deployments and the key ring: detection by public key id, for a registry and a server.

A registry stores a ``WatermarkDeployment`` with a model version — public facts only
(deployment name, scheme, parameters, rotation, key id). A detection service holds the
master secret and a ``KeyRing`` of the deployments it may test; a request names key ids,
never key bytes. ``detect_by_key_id`` is the one call such a service needs. The service
is an oracle an attacker could query to learn or scrub the watermark: authenticate and
rate-limit it (the server's job).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy.typing as npt

from weightwatch.errors import UsageError, VerificationError
from weightwatch.reports import Report
from weightwatch.watermark.detect import DEFAULT_ALPHA, DEFAULT_MIN_SCORED, detect
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.report import Correction, WatermarkDetection
from weightwatch.watermark.scheme import WatermarkScheme, get_scheme


class WatermarkDeployment(Report):
    """What a registry records about one watermarked deployment (no secret in it)."""

    schema_version: Literal["1"] = "1"  # a reader refuses forms it does not know
    deployment: str
    scheme: str
    params: dict[str, str | int | float]
    rotation: int = 0
    key_id: str

    @classmethod
    def create(
        cls, master: MasterSecret, deployment: str, *, scheme: str, rotation: int = 0, **params: Any
    ) -> WatermarkDeployment:
        """Record a new deployment (validates the parameters, derives the key id)."""
        built = get_scheme(scheme, **params)
        key = master.derive(deployment, scheme=scheme, rotation=rotation)
        return cls(
            deployment=deployment,
            scheme=scheme,
            params={k: v for k, v in built.describe().items() if k != "name"},
            rotation=rotation,
            key_id=key.key_id,
        )

    def build_scheme(self) -> WatermarkScheme:
        return get_scheme(self.scheme, **self.params)

    def key(self, master: MasterSecret) -> WatermarkKey:
        """The deployment's key; refuses a master secret that did not create it."""
        key = master.derive(self.deployment, scheme=self.scheme, rotation=self.rotation)
        if key.key_id != self.key_id:
            raise VerificationError(
                f"key id {self.key_id} of deployment {self.deployment!r} does not come from "
                f"this master secret (it derives {key.key_id})"
            )
        return key


class KeyRing:
    """The deployments one detector may test, found by public key id."""

    def __init__(self, master: MasterSecret, deployments: Iterable[WatermarkDeployment]) -> None:
        self._entries: dict[str, tuple[WatermarkDeployment, WatermarkKey]] = {}
        for dep in deployments:
            self._entries[dep.key_id] = (dep, dep.key(master))

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def key_ids(self) -> list[str]:
        return sorted(self._entries)

    def lookup(self, key_id: str) -> tuple[WatermarkDeployment, WatermarkKey]:
        try:
            return self._entries[key_id]
        except KeyError:
            raise UsageError(f"unknown watermark key id {key_id!r}") from None


def detect_by_key_id(
    token_ids: npt.ArrayLike,
    *,
    keyring: KeyRing,
    key_ids: str | Sequence[str],
    alpha: float = DEFAULT_ALPHA,
    min_scored: int = DEFAULT_MIN_SCORED,
    correction: Correction = "bonferroni",
    windows: Sequence[int] | None = None,
) -> WatermarkDetection:
    """Test generated token ids against deployments named by key id.

    Several ids (e.g. every rotation of one deployment) must share one scheme and its
    parameters; the p-value is adjusted for how many were tested.
    """
    ids = [key_ids] if isinstance(key_ids, str) else list(key_ids)
    if not ids:
        raise UsageError("name at least one key id")
    entries = [keyring.lookup(k) for k in ids]
    first = entries[0][0]
    for dep, _ in entries[1:]:
        if (dep.scheme, dep.params) != (first.scheme, first.params):
            raise UsageError(
                "key ids tested together must share a scheme and its parameters",
                hint="test each deployment's key ids in its own call",
            )
    return detect(
        token_ids,
        scheme=first.build_scheme(),
        keys=[key for _, key in entries],
        alpha=alpha,
        min_scored=min_scored,
        correction=correction,
        windows=windows,
    )


__all__ = ["KeyRing", "WatermarkDeployment", "detect_by_key_id"]
