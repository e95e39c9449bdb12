"""Takedowns that hold: match every registration against withdrawn versions.

At registration (the lineage step) the registry notes which taken-down versions, in any
namespace, the new weights copy or derive from: those the fingerprint search relates to
them (identical, quantized, permuted, fine-tuned, merged…) and those with the same
weights or value digest (a copy the fingerprinter cannot place still hashes alike). The
decision step turns the ones still taken down into the ``withdrawn_match`` fact, with
the takedown's reason, which the default policy blocks; a reinstatement re-decides the
copy (it is linked by a lineage edge) and lifts the block.

Versions already registered when their parent is taken down are not matched here: the
takedown propagates to them through their lineage edges (quarantine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from weightwatch.policy import WithdrawnMatch
from weightwatch.registry import schema
from weightwatch.registry.queries import moderations, version_label
from weightwatch.registry.states import Moderation, Status

DIGEST_RELATION = "identical (same weights digest)"


def taken_down(conn: Connection, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are taken down now."""
    wanted = set(ids)
    if not wanted:
        return set()
    v = schema.versions.c
    rows = conn.execute(select(v.id).where(and_(v.id.in_(wanted), v.status == Status.TAKEN_DOWN)))
    return {int(r[0]) for r in rows}


def same_digest(conn: Connection, version_id: int) -> list[int]:
    """Taken-down versions whose weights or value digest equals this version's."""
    v = schema.versions.c
    me = conn.execute(select(v.weights_digest, v.value_digest).where(v.id == version_id)).first()
    if me is None or not (me.weights_digest or me.value_digest):
        return []
    same = [v.weights_digest == me.weights_digest] if me.weights_digest else []
    same += [v.value_digest == me.value_digest] if me.value_digest else []
    rows = conn.execute(
        select(v.id).where(and_(v.id != version_id, v.status == Status.TAKEN_DOWN, or_(*same)))
    )
    return sorted(int(r[0]) for r in rows)


def at_registration(
    conn: Connection,
    version_id: int,
    related: Sequence[tuple[int, str, float | None, float | None]],
) -> list[dict[str, Any]]:
    """The withdrawn versions a new registration matches, as stored in its lineage
    report: ``related`` are the fingerprint search's (id, relation, score, p-value)
    for every candidate not judged unrelated."""
    down = taken_down(conn, (r[0] for r in related))
    out: dict[int, dict[str, Any]] = {}
    for vid, relation, score, p_value in related:
        if vid in down and vid not in out:
            out[vid] = {"version_id": vid, "relation": relation, "score": score, "p_value": p_value}
    for vid in same_digest(conn, version_id):
        out.setdefault(
            vid, {"version_id": vid, "relation": DIGEST_RELATION, "score": 1.0, "p_value": None}
        )
    for entry in out.values():
        entry["version"] = version_label(conn, int(entry["version_id"]))
    return sorted(out.values(), key=lambda e: int(e["version_id"]))


def still_withdrawn(
    conn: Connection, stored: Sequence[Mapping[str, Any]]
) -> tuple[WithdrawnMatch, ...]:
    """The matches of a lineage report whose version is still taken down, each with the
    reason of its latest takedown."""
    down = taken_down(conn, (int(e["version_id"]) for e in stored))
    out: list[WithdrawnMatch] = []
    for e in stored:
        vid = int(e["version_id"])
        if vid not in down:
            continue
        takedowns = moderations(conn, vid, action=Moderation.TAKEDOWN)
        out.append(
            WithdrawnMatch(
                version=version_label(conn, vid),
                relation=str(e.get("relation") or "related"),
                score=e.get("score"),
                p_value=e.get("p_value"),
                reason=takedowns[-1].reason if takedowns else "(no reason recorded)",
            )
        )
    return tuple(out)
