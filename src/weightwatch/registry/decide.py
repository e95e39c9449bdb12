"""The decide step: gather what the registry knows about a version, ask the policy.

Facts come from the version's own reports (scan, fingerprint, lineage) and from the
database (the current status of every parent, declared or detected), so re-deciding
after a parent's takedown sees the new status without re-reading any weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from weightwatch.registry import schema
from weightwatch.registry.pipeline import report, version_label, work_dir
from weightwatch.registry.store import Store

ACTION_ORDER = ("publish", "gate", "quarantine", "block")


@dataclass(frozen=True)
class RegistryDecision:
    action: str
    status: str
    reasons: list[str]


def status_for(action: str, access: str) -> str:
    """The access tier a decision leaves a version in."""
    if action == "block":
        return "blocked"
    if action == "quarantine":
        return "quarantined"
    if action == "gate":
        return "restricted" if access == "restricted" else "gated"
    return {"public": "published", "gated": "gated", "restricted": "restricted"}[access]


def parents_of(conn: Connection, version_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(schema.edges, schema.versions.c.status, schema.versions.c.access)
        .join(schema.versions, schema.versions.c.id == schema.edges.c.parent_id)
        .where(schema.edges.c.child_id == version_id)
    ).all()
    return [
        {
            "id": int(r.parent_id),
            "name": version_label(conn, int(r.parent_id)),
            "kind": r.kind,
            "relation": r.relation,
            "score": r.score,
            "p_value": r.p_value,
            "status": r.status,
            "access": r.access,
        }
        for r in rows
    ]


def decide(store: Store, version_id: int) -> RegistryDecision:
    from weightwatch.registry.policy_bridge import evaluate_version

    with store.engine.connect() as conn:
        access = conn.execute(
            select(schema.versions.c.access).where(schema.versions.c.id == version_id)
        ).scalar_one()
        context = {
            "label": version_label(conn, version_id),
            "access": access,
            "scan": report(conn, version_id, "scan"),
            "fingerprint": report(conn, version_id, "fingerprint"),
            "lineage": report(conn, version_id, "lineage"),
            "parents": parents_of(conn, version_id),
        }
    action, reasons = evaluate_version(work_dir(store, version_id), context)
    return RegistryDecision(action, status_for(action, str(access)), reasons)
