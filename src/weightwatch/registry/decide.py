"""The decide step: gather what the registry knows about a version, ask the policy.

Facts come from the version's own reports (scan, fingerprint, lineage) and from the
database (the current status of every parent, declared or detected, and the facts the
registry stored for it), so re-deciding after a parent's takedown sees the new status
without re-reading any weights.

A reviewer's release (``Registry.release``) waives the quarantine reasons of the decision
it released. Later decisions keep waiving only those of them that never went away: a
reason that disappears and comes back, or any new quarantine reason, quarantines again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select

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


@dataclass(frozen=True)
class Release:
    """A reviewer's release of a quarantined version (a ``takedowns`` row, action
    ``release``); ``log_index`` is the logged decision it released."""

    actor: str
    reason: str
    log_index: int
    created_at: str


def latest_release(conn: Connection, version_id: int) -> Release | None:
    t = schema.takedowns.c
    row = conn.execute(
        select(t.actor, t.reason, t.log_index, t.created_at)
        .where(and_(t.version_id == version_id, t.action == "release"))
        .order_by(t.id.desc())
        .limit(1)
    ).first()
    return Release(row.actor, row.reason, int(row.log_index), row.created_at) if row else None


def waivers(conn: Connection, version_id: int) -> tuple[list[tuple[str, str]], Release | None]:
    """The quarantine reasons (rule id, message) the next decision waives, and the latest
    release. Right after a release, that is every quarantine reason of the released
    decision; afterwards, only what the previous decision still waived."""
    release = latest_release(conn, version_id)
    stored = report(conn, version_id, "decision")
    if release is None or not isinstance(stored, dict):
        return [], release
    waive = [(str(r["rule_id"]), str(r["message"])) for r in stored.get("waived", [])]
    latest = conn.execute(
        select(schema.decisions.c.log_index)
        .where(schema.decisions.c.version_id == version_id)
        .order_by(schema.decisions.c.id.desc())
        .limit(1)
    ).scalar()
    if latest is not None and int(latest) == release.log_index:  # not yet applied
        waive += [
            (str(r["rule_id"]), str(r["message"]))
            for r in stored.get("reasons", [])
            if r.get("action") == "quarantine"
        ]
    return waive, release


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
        context["waive"], release = waivers(conn, version_id)
    facts, decision = evaluate_version(store.root, work_dir(store, version_id), context)
    by = (release.actor, release.reason) if release else None
    return RegistryDecision(
        decision.action,
        status_of(decision),
        reason_lines(decision, released_by=by),
        facts.to_json(),
        decision.to_json(),
    )
