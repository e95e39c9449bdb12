"""The registry's public API: register, look up, trace lineage, take down, reinstate,
release from quarantine.

All writes go through the pipeline (registrations) or one transaction each (takedowns),
and every decision lands in the transparency log. Reports are pydantic models with a
stable JSON form.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, and_, func, select, update

from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.errors import ArtifactError, RegistryError, UsageError
from weightwatch.registry import schema
from weightwatch.registry.pipeline import report, step_decide, unfinished, version_label
from weightwatch.registry.runners import Runner, make_runner
from weightwatch.registry.store import Store, now, open_store, parse_name, parse_ref
from weightwatch.watermark.deployments import WatermarkDeployment

ACCESS = ("public", "gated", "restricted")
SCHEMA_VERSION = "1"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class DecisionView(_Model):
    action: str
    status: str
    reasons: list[str]
    cause: str
    log_index: int | None
    created_at: str


class EdgeView(_Model):
    model: str
    kind: str  # declared | detected
    relation: str
    score: float | None
    p_value: float | None


class VersionView(_Model):
    schema_version: str = SCHEMA_VERSION
    model: str  # namespace/name@number
    state: str
    status: str
    access: str
    weights_digest: str | None
    value_digest: str | None
    files: int
    scan_verdict: str | None
    decision: DecisionView | None
    history: list[DecisionView]
    parents: list[EdgeView]
    children: list[EdgeView]
    watermarks: list[str]  # "deployment (scheme): key id" of watermarked deployments
    error: str | None


class TreeNode(_Model):
    model: str
    status: str
    relation: str | None
    kind: str | None  # declared | detected | declared+detected (one node per child)
    children: list[TreeNode]


class Registry:
    """A registry opened on a data directory (and database)."""

    def __init__(self, store: Store, *, runner: str = "inline") -> None:
        self.store = store
        self.runner: Runner = make_runner(runner, store)

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        *,
        init: bool = False,
        runner: str = "inline",
    ) -> Registry:
        return cls(open_store(Path(root) if root else None, db_url, init=init), runner=runner)

    def close(self) -> None:
        self.store.engine.dispose()

    # -- registering -------------------------------------------------------------------
    def submit(self, path: str | os.PathLike[str], name: str, *, access: str = "public") -> int:
        """Create a pending version and its job; returns the job id (nothing visible yet)."""
        if access not in ACCESS:
            raise UsageError(f"access must be one of {', '.join(ACCESS)}, not {access!r}")
        source = Path(path)
        if not source.exists():
            raise ArtifactError(source, "no such file or directory")
        ns, model = parse_name(name)
        with self.store.write.begin() as conn:
            model_id = self._lock_model(conn, ns, model)
            number = (
                int(
                    conn.execute(
                        select(func.coalesce(func.max(schema.versions.c.number), 0)).where(
                            schema.versions.c.model_id == model_id
                        )
                    ).scalar_one()
                )
                + 1
            )
            version_id = int(
                conn.execute(
                    schema.versions.insert().values(
                        model_id=model_id,
                        number=number,
                        state="pending",
                        status="pending",
                        access=access,
                        source=str(source.resolve()),
                        created_at=now(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            job_id = int(
                conn.execute(
                    schema.jobs.insert().values(
                        version_id=version_id,
                        step="ingest",
                        state="queued",
                        attempts=0,
                        updated_at=now(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        return job_id

    def register(
        self, path: str | os.PathLike[str], name: str, *, access: str = "public"
    ) -> VersionView:
        """Run the whole pipeline for ``path`` as a new version of ``name``."""
        job_id = self.submit(path, name, access=access)
        self.runner.run([job_id])
        return self.version_of_job(job_id)

    def _lock_model(self, conn: Connection, ns: str, model: str) -> int:
        """The model's id, created if new, with its row locked until the transaction ends
        (PostgreSQL; SQLite's write transaction already excludes other writers), so
        concurrent registrations number their versions without gaps or clashes."""
        values = {"namespace": ns, "name": model, "created_at": now()}
        where = and_(schema.models.c.namespace == ns, schema.models.c.name == model)
        if self.store.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(schema.models).values(**values).on_conflict_do_nothing())
            locked = select(schema.models.c.id).where(where).with_for_update()
            return int(conn.execute(locked).scalar_one())
        if conn.execute(select(schema.models.c.id).where(where)).first() is None:
            conn.execute(schema.models.insert().values(**values))
        return int(conn.execute(select(schema.models.c.id).where(where)).scalar_one())

    def resume(self) -> list[str]:
        """Finish (or cleanly fail) every job a crash or restart left behind."""
        return self.runner.run(unfinished(self.store))

    def version_of_job(self, job_id: int) -> VersionView:
        with self.store.engine.connect() as conn:
            vid = conn.execute(
                select(schema.jobs.c.version_id).where(schema.jobs.c.id == job_id)
            ).scalar_one()
            return self._view(conn, int(vid))

    # -- reading -----------------------------------------------------------------------
    def _version_id(self, conn: Connection, ref: str, *, any_state: bool = False) -> int:
        ns, model, number = parse_ref(ref)
        q = (
            select(schema.versions.c.id)
            .join(schema.models, schema.models.c.id == schema.versions.c.model_id)
            .where(and_(schema.models.c.namespace == ns, schema.models.c.name == model))
        )
        if not any_state:
            q = q.where(schema.versions.c.state == "complete")
        if number is not None:
            q = q.where(schema.versions.c.number == number)
        row = conn.execute(q.order_by(schema.versions.c.number.desc())).first()
        if row is None:
            raise RegistryError(f"no registered version {ref!r}")
        return int(row[0])

    def status(self, ref: str) -> VersionView:
        with self.store.engine.connect() as conn:
            return self._view(conn, self._version_id(conn, ref))

    def versions(self) -> list[VersionView]:
        with self.store.engine.connect() as conn:
            ids = conn.execute(
                select(schema.versions.c.id)
                .where(schema.versions.c.state == "complete")
                .order_by(schema.versions.c.id)
            ).all()
            return [self._view(conn, int(r[0])) for r in ids]

    def _decisions(self, conn: Connection, vid: int) -> list[DecisionView]:
        rows = conn.execute(
            select(schema.decisions)
            .where(schema.decisions.c.version_id == vid)
            .order_by(schema.decisions.c.id)
        ).all()
        return [
            DecisionView(
                action=r.action,
                status=r.status,
                reasons=json.loads(r.reasons),
                cause=r.cause,
                log_index=r.log_index,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def _edges(self, conn: Connection, vid: int, *, parents: bool) -> list[EdgeView]:
        mine, other = (
            (schema.edges.c.child_id, schema.edges.c.parent_id)
            if parents
            else (schema.edges.c.parent_id, schema.edges.c.child_id)
        )
        rows = conn.execute(select(schema.edges, other.label("other")).where(mine == vid)).all()
        labels = self._labels(conn, {int(r.other) for r in rows}) if rows else {}
        return [
            EdgeView(
                model=labels[int(r.other)][0],
                kind=r.kind,
                relation=r.relation,
                score=r.score,
                p_value=r.p_value,
            )
            for r in sorted(rows, key=lambda r: (r.other, r.kind))
        ]

    def _view(self, conn: Connection, vid: int) -> VersionView:
        v = conn.execute(select(schema.versions).where(schema.versions.c.id == vid)).first()
        if v is None:
            raise RegistryError(f"no version {vid}")
        scan = report(conn, vid, "scan")
        history = self._decisions(conn, vid)
        n_files = conn.execute(
            select(func.count()).select_from(schema.files).where(schema.files.c.version_id == vid)
        ).scalar_one()
        return VersionView(
            model=version_label(conn, vid),
            state=v.state,
            status=v.status,
            access=v.access,
            weights_digest=v.weights_digest,
            value_digest=v.value_digest,
            files=int(n_files),
            scan_verdict=scan.get("verdict") if isinstance(scan, dict) else None,
            decision=history[-1] if history else None,
            history=history,
            parents=self._edges(conn, vid, parents=True),
            children=self._edges(conn, vid, parents=False),
            watermarks=[
                f"{d.deployment} ({d.scheme}): key id {d.key_id}"
                for d in (
                    WatermarkDeployment.model_validate_json(r[0])
                    for r in conn.execute(
                        select(schema.watermarks.c.record).where(
                            schema.watermarks.c.version_id == vid
                        )
                    ).all()
                )
            ],
            error=v.error,
        )

    def lineage_tree(self, ref: str) -> TreeNode:
        """The version's descendants (by detected or declared edges) as a tree; a child
        both declared and detected is one node. One query per generation."""
        with self.store.engine.connect() as conn:
            root = self._version_id(conn, ref)
            kids: dict[int, dict[int, dict[str, str]]] = {}
            known, frontier = {root}, {root}
            while frontier:
                rows = conn.execute(
                    select(
                        schema.edges.c.parent_id,
                        schema.edges.c.child_id,
                        schema.edges.c.kind,
                        schema.edges.c.relation,
                    )
                    .where(schema.edges.c.parent_id.in_(frontier))
                    .order_by(schema.edges.c.child_id, schema.edges.c.kind)
                ).all()
                frontier = set()
                for r in rows:
                    child = int(r.child_id)
                    kids.setdefault(int(r.parent_id), {}).setdefault(child, {})[r.kind] = r.relation
                    if child not in known:
                        known.add(child)
                        frontier.add(child)
            info = self._labels(conn, known)

        def node(
            vid: int, relation: str | None, kind: str | None, seen: frozenset[int]
        ) -> TreeNode:
            label, status = info[vid]
            return TreeNode(
                model=label,
                status=status,
                relation=relation,
                kind=kind,
                children=[
                    node(
                        child,
                        by_kind.get("detected") or by_kind["declared"],
                        "+".join(sorted(by_kind)),  # declared | detected | declared+detected
                        seen | {vid},
                    )
                    for child, by_kind in kids.get(vid, {}).items()
                    if child not in seen and child != vid
                ],
            )

        return node(root, None, None, frozenset())

    def _labels(self, conn: Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
        """``namespace/name@number`` and status of each version, in one query."""
        rows = conn.execute(
            select(
                schema.versions.c.id,
                schema.versions.c.status,
                schema.versions.c.number,
                schema.models.c.namespace,
                schema.models.c.name,
            )
            .join(schema.models, schema.models.c.id == schema.versions.c.model_id)
            .where(schema.versions.c.id.in_(ids))
        ).all()
        return {int(r.id): (f"{r.namespace}/{r.name}@{r.number}", r.status) for r in rows}

    def descendants(self, conn: Connection, vid: int) -> list[int]:
        out: list[int] = []
        frontier = [vid]
        while frontier:
            rows = conn.execute(
                select(schema.edges.c.child_id).where(schema.edges.c.parent_id.in_(frontier))
            ).all()
            frontier = [int(r[0]) for r in rows if int(r[0]) not in out and int(r[0]) != vid]
            out += frontier
        return out

    # -- takedowns -----------------------------------------------------------------------
    def takedown(self, ref: str, *, reason: str, actor: str = "cli") -> VersionView:
        """Block a version, log it, and re-decide every known descendant."""
        return self._set_down(ref, reason=reason, actor=actor, down=True)

    def reinstate(self, ref: str, *, reason: str, actor: str = "cli") -> VersionView:
        return self._set_down(ref, reason=reason, actor=actor, down=False)

    def _set_down(self, ref: str, *, reason: str, actor: str, down: bool) -> VersionView:
        if not reason.strip():
            raise UsageError("a takedown or reinstatement needs a --reason")
        action = "takedown" if down else "reinstatement"
        with self.store.write.begin() as conn:
            vid = self._version_id(conn, ref)
            label = version_label(conn, vid)
            current = conn.execute(
                select(schema.versions.c.status).where(schema.versions.c.id == vid)
            ).scalar_one()
            if down and current == "taken_down":
                raise RegistryError(f"{label} is already taken down")
            if not down and current != "taken_down":
                raise RegistryError(f"{label} is not taken down (status {current})")
            body = {"model": label, "action": action, "actor": actor, "reason": reason}
            (idx,) = self.store.log.append_many(
                [(action, entry_leaf(action, body, time=now()))], conn=conn
            )
            conn.execute(
                schema.takedowns.insert().values(
                    version_id=vid,
                    action=action,
                    actor=actor,
                    reason=reason,
                    log_index=idx,
                    created_at=now(),
                )
            )
            if down:
                conn.execute(
                    update(schema.versions)
                    .where(schema.versions.c.id == vid)
                    .values(status="taken_down")
                )
            affected = self.descendants(conn, vid)
        if not down:
            self._redecide(vid, cause=f"reinstatement of {label}")
        for child in affected:
            self._redecide(child, cause=f"{action} of {label}")
        return self.status(f"{label}")

    # -- review ----------------------------------------------------------------------------
    def release(self, ref: str, *, reason: str, actor: str = "cli") -> VersionView:
        """Release a quarantined version after review: the quarantine reasons of its
        current decision stop counting, and it gets the status the policy gives it without
        them (its requested tier, or a gate that still applies). Logged as a decision with
        cause ``release by <actor>``; its descendants are re-decided. Blocks are never
        released, and a quarantine reason the release did not cover quarantines it again."""
        if not reason.strip():
            raise UsageError("a release needs a --reason")
        with self.store.write.begin() as conn:
            vid = self._version_id(conn, ref)
            label = version_label(conn, vid)
            current = conn.execute(
                select(schema.versions.c.status).where(schema.versions.c.id == vid)
            ).scalar_one()
            if current != "quarantined":
                raise RegistryError(
                    f"{label} is not quarantined (status {current}): only a quarantine "
                    "can be released",
                    hint="a block (e.g. a malicious scan finding) stays; a takedown is "
                    "undone with reinstate",
                )
            released = conn.execute(
                select(schema.decisions.c.log_index)
                .where(schema.decisions.c.version_id == vid)
                .order_by(schema.decisions.c.id.desc())
                .limit(1)
            ).scalar_one()
            conn.execute(
                schema.takedowns.insert().values(
                    version_id=vid,
                    action="release",
                    actor=actor,
                    reason=reason,
                    log_index=released,
                    created_at=now(),
                )
            )
            affected = self.descendants(conn, vid)
        self._redecide(vid, cause=f"release by {actor}")
        for child in affected:
            self._redecide(child, cause=f"release of {label}")
        return self.status(label)

    def _redecide(self, vid: int, *, cause: str) -> None:
        persist = step_decide(self.store, vid, cause=cause)
        with self.store.write.begin() as conn:
            persist(conn)

    # -- audits ---------------------------------------------------------------------------
    def add_audit(self, ref: str, summary: dict[str, Any]) -> VersionView:
        """Attach a base-vs-derivative safety audit (``audit compare --json``) and
        re-decide: a derivative whose safety was stripped is a fact the policy weighs."""
        from weightwatch.audit.derivative import DerivativeReport, DerivativeSummary
        from weightwatch.registry.pipeline import _put_report

        try:
            if "attacks" in summary:  # the whole report `weightwatch audit compare --json` writes
                parsed = DerivativeReport.model_validate(summary).summary()
            else:
                parsed = DerivativeSummary.model_validate(summary)
        except ValueError as exc:
            raise UsageError(f"not an audit comparison (audit compare --json): {exc}") from exc
        doc = parsed.model_dump(mode="json")
        with self.store.write.begin() as conn:
            vid = self._version_id(conn, ref)
            _put_report(conn, vid, "audit", doc)
            label = version_label(conn, vid)
        self._redecide(vid, cause=f"audit of {label}")
        return self.status(label)

    # -- watermarks -----------------------------------------------------------------------
    def add_watermark(self, ref: str, deployment: WatermarkDeployment) -> None:
        """Record that ``ref`` is served by a watermarked deployment (public record only)."""
        with self.store.write.begin() as conn:
            vid = self._version_id(conn, ref)
            owner = conn.execute(
                select(schema.watermarks.c.version_id).where(
                    schema.watermarks.c.key_id == deployment.key_id
                )
            ).first()
            if owner is not None:
                raise RegistryError(
                    f"key id {deployment.key_id} is already recorded for "
                    f"{version_label(conn, int(owner[0]))}"
                )
            conn.execute(
                schema.watermarks.insert().values(
                    key_id=deployment.key_id,
                    version_id=vid,
                    record=deployment.model_dump_json(),
                    created_at=now(),
                )
            )

    def watermarks(self, ref: str) -> list[WatermarkDeployment]:
        with self.store.engine.connect() as conn:
            vid = self._version_id(conn, ref)
            rows = conn.execute(
                select(schema.watermarks.c.record)
                .where(schema.watermarks.c.version_id == vid)
                .order_by(schema.watermarks.c.created_at)
            ).all()
        return [WatermarkDeployment.model_validate_json(r[0]) for r in rows]

    def version_for_key(self, key_id: str) -> str:
        """Which registered version a watermark key id belongs to."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(schema.watermarks.c.version_id).where(schema.watermarks.c.key_id == key_id)
            ).first()
            if row is None:
                raise RegistryError(f"no registered version uses watermark key id {key_id}")
            return version_label(conn, int(row[0]))

    # -- proofs ----------------------------------------------------------------------------
    def decision_proof(self, ref: str) -> dict[str, Any]:
        """The latest decision's log entry, inclusion proof and a signed checkpoint."""
        from weightwatch.registry.store import LOG_ORIGIN

        with self.store.engine.connect() as conn:
            idx = conn.execute(
                select(schema.decisions.c.log_index)
                .where(schema.decisions.c.version_id == self._version_id(conn, ref))
                .order_by(schema.decisions.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        if idx is None:
            raise RegistryError(f"{ref}: no logged decision")
        note = self.store.log.checkpoint(self.store.signer, origin=LOG_ORIGIN)
        entry = self.store.log.entry(idx)
        size = int(note.split("\n")[1])
        return {
            "index": idx,
            "leaf": entry.leaf.decode(),
            "hashes": [h.hex() for h in self.store.log.inclusion_proof(idx, size)],
            "checkpoint": note,
        }
