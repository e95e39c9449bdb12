"""The decide step: gather what the registry knows about a version, ask the policy.

Facts come from the version's own reports (scan, fingerprint, lineage) and from the
database (the current status of every parent, declared or detected, and the facts the
registry stored for it), so re-deciding after a parent's takedown sees the new status
without re-reading any weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from weightwatch.registry import schema
from weightwatch.registry.pipeline import report, version_label, work_dir
from weightwatch.registry.store import Store


@dataclass(frozen=True)
class RegistryDecision:
    action: str
    status: str
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)


def parents_of(conn: Connection, version_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(schema.edges, schema.versions.c.status, schema.versions.c.access)
        .join(schema.versions, schema.versions.c.id == schema.edges.c.parent_id)
        .where(schema.edges.c.child_id == version_id)
    ).all()
    out = []
    for r in rows:
        facts = report(conn, int(r.parent_id), "facts")
        if isinstance(facts, dict):
            files = conn.execute(
                select(schema.files.c.path).where(schema.files.c.version_id == r.parent_id)
            ).all()
            facts = {**facts, "_files": [f[0] for f in files]}
        out.append(
            {
                "id": int(r.parent_id),
                "name": version_label(conn, int(r.parent_id)),
                "kind": r.kind,
                "relation": r.relation,
                "score": r.score,
                "p_value": r.p_value,
                "status": r.status,
                "access": r.access,
                "facts": facts,
            }
        )
    return out


def decide(store: Store, version_id: int) -> RegistryDecision:
    from weightwatch.registry.policy_bridge import evaluate_version, reason_lines, status_of

    with store.engine.connect() as conn:
        access = conn.execute(
            select(schema.versions.c.access).where(schema.versions.c.id == version_id)
        ).scalar_one()
        context = {
            "label": version_label(conn, version_id),
            "access": str(access),
            "scan": report(conn, version_id, "scan"),
            "lineage": report(conn, version_id, "lineage"),
            "audit": report(conn, version_id, "audit"),
            "parents": parents_of(conn, version_id),
        }
    facts, decision = evaluate_version(store.root, work_dir(store, version_id), context)
    return RegistryDecision(
        decision.action,
        status_of(decision),
        reason_lines(decision),
        facts.to_json(),
        decision.to_json(),
    )
