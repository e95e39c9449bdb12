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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select

from weightwatch.policy import ParentRecord, PolicyContext, StoredDecision, Waiver
from weightwatch.policy.context import parse_access
from weightwatch.registry import schema
from weightwatch.registry.policy_bridge import evaluate_version, reason_lines, status_of
from weightwatch.registry.queries import files, latest_decision_index, report, version_label
from weightwatch.registry.states import Moderation
from weightwatch.registry.store import Store, work_dir
from weightwatch.registry.withdrawn import still_withdrawn


@dataclass(frozen=True)
class RegistryDecision:
    action: str
    status: str
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)


def _stored(conn: Connection, version_id: int, kind: str) -> Mapping[str, Any] | None:
    """A stored report's JSON object, or ``None`` when the version has none."""
    body = report(conn, version_id, kind)
    return body if isinstance(body, dict) else None


def _detected(lineage_report: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The detected lineage inside the lineage step's report (``None``: no search ran)."""
    detected = (lineage_report or {}).get("detected")
    return detected if isinstance(detected, dict) else None


def parents_of(conn: Connection, version_id: int) -> tuple[ParentRecord, ...]:
    """Every parent edge of the version, declared or detected, with the parent's
    current standing, its stored facts and its file list."""
    rows = conn.execute(
        select(schema.edges, schema.versions.c.status, schema.versions.c.access)
        .join(schema.versions, schema.versions.c.id == schema.edges.c.parent_id)
        .where(schema.edges.c.child_id == version_id)
    ).all()
    return tuple(
        ParentRecord.from_stored(
            name=version_label(conn, int(r.parent_id)),
            status=r.status,
            access=r.access,
            kind=r.kind,
            relation=r.relation,
            score=r.score,
            p_value=r.p_value,
            facts=_stored(conn, int(r.parent_id), "facts"),
            files=[f.path for f in files(conn, int(r.parent_id))],
        )
        for r in rows
    )


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
        .where(and_(t.version_id == version_id, t.action == Moderation.RELEASE))
        .order_by(t.id.desc())
        .limit(1)
    ).first()
    return Release(row.actor, row.reason, int(row.log_index), row.created_at) if row else None


def waivers(conn: Connection, version_id: int) -> tuple[tuple[Waiver, ...], Release | None]:
    """The quarantine reasons (rule id, message) the next decision waives, and the latest
    release. Right after a release, that is every quarantine reason of the released
    decision; afterwards, only what the previous decision still waived."""
    release = latest_release(conn, version_id)
    stored = _stored(conn, version_id, "decision")
    if release is None or stored is None:
        return (), release
    previous = StoredDecision.from_json(stored)
    latest = latest_decision_index(conn, version_id)
    if latest == release.log_index:  # not yet applied
        return previous.waived + previous.quarantined, release
    return previous.waived, release


def decide(store: Store, version_id: int) -> RegistryDecision:
    with store.engine.connect() as conn:
        access = conn.execute(
            select(schema.versions.c.access).where(schema.versions.c.id == version_id)
        ).scalar_one()
        waive, release = waivers(conn, version_id)
        weights = _stored(conn, version_id, "fingerprint") or {}
        matched = (_stored(conn, version_id, "lineage") or {}).get("withdrawn") or []
        context = PolicyContext(
            label=version_label(conn, version_id),
            access=parse_access(str(access)),
            scan=_stored(conn, version_id, "scan"),
            lineage=_detected(_stored(conn, version_id, "lineage")),
            audit=_stored(conn, version_id, "audit"),
            parents=parents_of(conn, version_id),
            waive=waive,
            weights_inspectable=weights.get("inspectable"),
            weights_problem=weights.get("problem"),
            withdrawn=still_withdrawn(conn, matched),
            forensics=_stored(conn, version_id, "forensics"),
        )
    facts, decision = evaluate_version(store.root, work_dir(store, version_id), context)
    by = (release.actor, release.reason) if release else None
    return RegistryDecision(
        decision.action,
        status_of(decision),
        reason_lines(decision, released_by=by),
        facts.to_json(),
        decision.to_json(),
    )
