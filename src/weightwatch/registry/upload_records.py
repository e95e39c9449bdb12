"""The records of uploads through the server: who is uploading what, how far it got,
and the job that registers it. The staging files belong to the server; the rows are the
registry's, like every other table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update

from weightwatch.errors import UsageError
from weightwatch.registry import queries, schema
from weightwatch.registry.states import State
from weightwatch.registry.store import Store, host_id, now

RECEIVING, REGISTERING, ABORTED = "receiving", "registering", "aborted"


@dataclass(frozen=True)
class Outcome:
    """What an upload's registration job has produced so far."""

    step: str
    state: str
    error: str | None
    version: str | None  # the label, once the version is complete (visible)
    status: str | None
    files: list[queries.FileRow]


def create(
    store: Store,
    upload_id: str,
    *,
    user: str,
    model: str,
    access: str,
    max_open: int | None = None,
) -> None:
    """Record a new upload; ``UsageError`` if ``user`` already has ``max_open`` uploads
    still receiving (checked and created in one serialised transaction)."""
    with store.write.begin() as conn:
        if max_open is not None:
            t = schema.uploads.c
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"ww-up:{user}"}
                )
            n = conn.execute(
                select(func.count()).where(and_(t.user == user, t.state == RECEIVING))
            ).scalar_one()
            if n >= max_open:
                raise UsageError(
                    f"{user} already has {n} uploads receiving files (at most {max_open}): "
                    "finish or abort one first"
                )
        conn.execute(
            schema.uploads.insert().values(
                id=upload_id,
                user=user,
                model=model,
                access=access,
                state=RECEIVING,
                received=0,
                host=host_id(store),
                created_at=now(),
                updated_at=now(),
            )
        )


def get(store: Store, upload_id: str) -> Any:
    """The upload's row, or ``None``."""
    with store.engine.connect() as conn:
        return conn.execute(select(schema.uploads).where(schema.uploads.c.id == upload_id)).first()


def update_row(store: Store, upload_id: str, *, when: str | None = None, **values: Any) -> bool:
    """Update the row (only while in state ``when``, if given); whether it changed."""
    cond = schema.uploads.c.id == upload_id
    if when is not None:
        cond = and_(cond, schema.uploads.c.state == when)
    with store.write.begin() as conn:
        n = conn.execute(
            update(schema.uploads).where(cond).values(updated_at=now(), **values)
        ).rowcount
    return bool(n)


def job_state(store: Store, job_id: int) -> tuple[str, str | None] | None:
    """A job's state and error, or ``None`` if there is no such job."""
    with store.engine.connect() as conn:
        job = queries.job(conn, job_id)
    return None if job is None else (str(job.state), job.error)


def outcome(store: Store, job_id: int, *, with_files: bool) -> Outcome:
    """The job's progress and, once complete, its version (nothing half-registered)."""
    with store.engine.connect() as conn:
        j = queries.job(conn, job_id)
        v = queries.version_row(conn, int(j.version_id))
        complete = v.state == State.COMPLETE
        return Outcome(
            j.step,
            j.state,
            j.error,
            v.label if complete else None,
            v.status if complete else None,
            queries.files(conn, v.id) if with_files else [],
        )


def abort_unfinished(store: Store, error: str) -> tuple[list[str], list[str]]:
    """After a restart: mark uploads still receiving (or registering without a job) as
    aborted; returns (the aborted ids, the ids still registering). Only this host's: the
    others' staging folders are on their own disks, and their uploads may be live."""
    u = schema.uploads.c
    with store.write.begin() as conn:
        rows = conn.execute(
            select(u.id, u.state, u.job_id).where(
                and_(
                    u.state.in_((RECEIVING, REGISTERING)),
                    or_(u.host == host_id(store), u.host.is_(None)),
                )
            )
        ).all()
        dead = [r.id for r in rows if r.state == RECEIVING or r.job_id is None]
        if dead:
            conn.execute(
                update(schema.uploads)
                .where(u.id.in_(dead))
                .values(state=ABORTED, error=error, updated_at=now())
            )
    return dead, [r.id for r in rows if r.id not in dead]
