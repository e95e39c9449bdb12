"""Gathering a ``BomSubject``: from a registry version (its stored facts, lineage, scan,
audit, watermarks and attestation, through the public ``Registry`` API) or from a local
folder (hashed, scanned and judged here; lineage only as the card declares it)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightwatch.bom.model import BomFile, BomSubject, parents_from
from weightwatch.errors import RegistryError
from weightwatch.policy.facts import Facts
from weightwatch.registry.redaction import HIDDEN, redact

if TYPE_CHECKING:
    from weightwatch.registry import Registry


def from_registry(
    registry: Registry, ref: str, *, visible: Callable[[str], bool] | None = None
) -> BomSubject:
    """The BOM subject of ``namespace/name[@number]``. ``visible(label)`` says which
    registered parents the reader may see; the others are left out of the pedigree."""
    view = registry.status(ref)
    ns_name, _, number = view.model.rpartition("@")
    ns, _, name = ns_name.partition("/")
    row = registry.resolve(ns, name, number)  # status() found it: a complete version
    facts_json = registry.report(row.id, "facts")
    if facts_json is None:
        raise RegistryError(f"{view.model} has no facts report")
    facts = Facts.model_validate(facts_json)
    hidden = [
        p.name
        for p in parents_from(facts)
        if "@" in p.name and visible is not None and not visible(p.name)
    ]
    if hidden:  # obligations, disagreements and reasons name parents too
        facts = Facts.model_validate_json(redact(facts.model_dump_json(), hidden))
    parents = [p for p in parents_from(facts) if p.name != HIDDEN]
    attestation = registry.attestation(row.id)
    d = view.decision
    decision = f"{d.action}: " + "; ".join(d.reasons) if d else None
    return BomSubject(
        source="registry",
        name=ns_name,
        version=number,
        created=row.completed_at or (d.created_at if d else _now()),
        files=[BomFile(path=f.path, size=f.size, sha256=f.sha256) for f in registry.files(row.id)],
        weights_digest=view.weights_digest,
        value_digest=view.value_digest,
        facts=facts,
        parents=parents,
        status=view.status,
        decision=redact(decision, hidden) if decision and hidden else decision,
        audit=_redacted(registry.report(row.id, "audit"), hidden),
        watermarks=list(view.watermarks),
        signer_key_id=attestation.key_id if attestation is not None else None,
    )


def from_path(path: str | os.PathLike[str]) -> BomSubject:
    """The BOM subject of a local model folder or file: every file hashed, the weights
    digest computed, the files scanned and the policy facts built (no registry: the
    pedigree is what the card declares, marked ``declared``)."""
    from weightwatch.identity import compute_manifest
    from weightwatch.policy import facts_for

    root = Path(path)
    manifest = compute_manifest(root)
    facts = facts_for(root)
    mtimes = [(root / f.path if root.is_dir() else root).stat().st_mtime for f in manifest.files]
    created = datetime.fromtimestamp(max(mtimes, default=0), UTC).isoformat()
    return BomSubject(
        source="path",
        name=facts.subject.name or root.resolve().name,
        version="local",
        created=created,
        files=[BomFile(path=f.path, size=f.size, sha256=f.digest) for f in manifest.files],
        weights_digest=manifest.weights_digest,
        value_digest=manifest.value_digest,
        facts=facts,
        parents=parents_from(facts),
        status=None,
        decision=None,
        audit=None,
        watermarks=[],
        signer_key_id=None,
    )


def _redacted(doc: Any, hidden: list[str]) -> Any:
    return json.loads(redact(json.dumps(doc), hidden)) if hidden and doc else doc


def _now() -> str:
    return datetime.now(UTC).isoformat()


__all__ = ["from_path", "from_registry"]
