"""Takedown, reinstatement and release from quarantine: the moderation row, the log
entry and the action-log record, written in one transaction. :class:`Registry` then
re-decides the version and everything derived from it, so a takedown follows forks.
"""

from __future__ import annotations

from sqlalchemy import Connection, update

from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import queries, schema
from weightwatch.registry.accounts import check_reason, record
from weightwatch.registry.states import Moderation, Status
from weightwatch.registry.store import Store, now


def _reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise UsageError(f"{what} needs a --reason")
    check_reason(reason)


def set_down(
    store: Store, ref: str, *, reason: str, actor: str, client: str | None, down: bool
) -> tuple[int, str, list[int]]:
    """Take ``ref`` down (or reinstate it), logged; its id, label and descendants."""
    _reason(reason, "a takedown or reinstatement")
    action = Moderation.TAKEDOWN if down else Moderation.REINSTATEMENT
    with store.write.begin() as conn:
        vid = queries.version_id(conn, ref)
        row = queries.version_row(conn, vid)
        label, current = row.label, row.status
        if down and current == Status.TAKEN_DOWN:
            raise RegistryError(f"{label} is already taken down")
        if not down and current != Status.TAKEN_DOWN:
            raise RegistryError(f"{label} is not taken down (status {current})")
        body = {"model": label, "action": str(action), "actor": actor, "reason": reason}
        (idx,) = store.log.append_many(
            [(str(action), entry_leaf(str(action), body, time=now()))], conn=conn
        )
        _moderate(conn, vid, action, actor=actor, reason=reason, log_index=idx)
        event = "model.takedown" if down else "model.reinstate"
        record(store, actor, event, label, client=client, conn=conn, reason=reason)
        if down:
            conn.execute(
                update(schema.versions)
                .where(schema.versions.c.id == vid)
                .values(status=Status.TAKEN_DOWN)
            )
        return vid, label, queries.descendants(conn, vid)


def release(
    store: Store, ref: str, *, reason: str, actor: str, client: str | None
) -> tuple[int, str, list[int]]:
    """Record the release of quarantined ``ref`` against its current (logged) decision;
    its id, label and descendants. Only a quarantine can be released."""
    _reason(reason, "a release")
    with store.write.begin() as conn:
        vid = queries.version_id(conn, ref)
        row = queries.version_row(conn, vid)
        label = row.label
        if row.status != Status.QUARANTINED:
            raise RegistryError(
                f"{label} is not quarantined (status {row.status}): only a quarantine "
                "can be released",
                hint="a block (e.g. a malicious scan finding) stays; a takedown is "
                "undone with reinstate",
            )
        released = queries.latest_decision_index(conn, vid)
        assert released is not None  # a complete version has a logged decision
        _moderate(conn, vid, Moderation.RELEASE, actor=actor, reason=reason, log_index=released)
        record(store, actor, "model.release", label, client=client, conn=conn, reason=reason)
        return vid, label, queries.descendants(conn, vid)


def _moderate(
    conn: Connection, vid: int, action: Moderation, *, actor: str, reason: str, log_index: int
) -> None:
    conn.execute(
        schema.takedowns.insert().values(
            version_id=vid,
            action=str(action),
            actor=actor,
            reason=reason,
            log_index=log_index,
            created_at=now(),
        )
    )
