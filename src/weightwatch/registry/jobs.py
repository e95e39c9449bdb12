"""Pending registrations: list them, cancel one, roll one back.

A registration is a job plus a pending version that nobody sees until its decision
commits. Rolling back removes both (and what the finished steps stored: files,
reports, lineage edges, the working copy and the fingerprint), so a cancelled
registration leaves nothing visible and nothing for ``resume`` to finish later; its
version number is free again. A job held by another live process is only marked
``cancelled``: its owner notices before its next step commits and rolls back itself.
"""

from __future__ import annotations

from sqlalchemy import select, update

from weightwatch.errors import RegistryError
from weightwatch.registry import schema
from weightwatch.registry.pipeline import CANCELLED, OPEN_STATES, alive, owner_id, rollback
from weightwatch.registry.store import Store, now
from weightwatch.reports import Record


class JobView(Record):
    """A registration not yet finished, as ``registry jobs`` lists it."""

    job: int
    model: str  # namespace/name@number it will become
    source: str
    step: str  # the next step to run
    state: str  # queued | running | cancelled
    owner: str | None
    owner_alive: bool
    updated_at: str


def open_jobs(store: Store) -> list[JobView]:
    """Every job that is queued, running or marked cancelled, oldest first."""
    j, v, m = schema.jobs, schema.versions, schema.models
    query = (
        select(
            j.c.id,
            m.c.namespace,
            m.c.name,
            v.c.number,
            v.c.source,
            j.c.step,
            j.c.state,
            j.c.owner,
            j.c.updated_at,
        )
        .join(v, v.c.id == j.c.version_id)
        .join(m, m.c.id == v.c.model_id)
        .where(j.c.state.in_((*OPEN_STATES, CANCELLED)))
        .order_by(j.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        JobView(
            job=int(r.id),
            model=f"{r.namespace}/{r.name}@{r.number}",
            source=str(r.source or ""),
            step=str(r.step),
            state=str(r.state),
            owner=r.owner,
            owner_alive=r.state == "running" and alive(r.owner),
            updated_at=str(r.updated_at),
        )
        for r in rows
    ]


def cancel(store: Store, job_id: int) -> str:
    """Cancel a registration: roll it back now, or — when another live process runs
    it — mark it so that process rolls it back before its next step commits.
    Returns ``rolled back`` or ``cancelling``."""
    with store.write.begin() as conn:
        job = conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).first()
        if job is None:
            raise RegistryError(f"no job {job_id}", hint="`weightwatch registry jobs` lists them")
        if job.state not in (*OPEN_STATES, CANCELLED):
            raise RegistryError(f"job {job_id} has already finished ({job.state})")
        held = job.state == "running" and job.owner not in (None, owner_id()) and alive(job.owner)
        if held:
            conn.execute(
                update(schema.jobs)
                .where(schema.jobs.c.id == job_id)
                .values(state=CANCELLED, updated_at=now())
            )
    if held:
        return "cancelling"
    rollback(store, job_id)
    return "rolled back"


__all__ = ["CANCELLED", "JobView", "cancel", "open_jobs", "rollback"]
