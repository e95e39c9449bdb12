"""The registration pipeline: one job per version, one committed step at a time.

ingest → scan → identity → fingerprint → lineage → decide. Each step computes outside
any transaction, then commits its results *and* the job's next step together, so a crash
at any point re-runs at most the step it interrupted, and steps are written to be
repeatable (results are replaced, blobs are content-addressed). The version becomes
visible (``state='complete'``) in the same transaction as its decision, its signed
attestation and its transparency-log entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, delete, select, update

from weightwatch.artifacts import open_artifact
from weightwatch.attest.bundle import sign_statement, statement
from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.errors import ArtifactError, RegistryError, ScanError, WeightwatchError
from weightwatch.fingerprint import fingerprint
from weightwatch.identity import compute_manifest
from weightwatch.identity.manifest import DEFAULT_IGNORE, Manifest, list_files
from weightwatch.lineage import explain
from weightwatch.lineage.relation import disagreements_for
from weightwatch.policy import declared_bases
from weightwatch.registry import blobgc, fingerprints, queries, recipients, schema, withdrawn
from weightwatch.registry.decide import decide
from weightwatch.registry.inspectable import strip_root, weights_problem
from weightwatch.registry.queries import put_report, version_label
from weightwatch.registry.store import Store, fp_path, now, work_dir
from weightwatch.scan import scan_paths

STEPS = ("ingest", "scan", "identity", "fingerprint", "lineage", "decide", "done")
# Crash-test hook: ``WEIGHTWATCH_CRASH_AFTER=<step>`` kills the process with SIGKILL right
# after that step committed (``<step>:before`` just before it commits).
CRASH_ENV = "WEIGHTWATCH_CRASH_AFTER"
CANCELLED = "cancelled"  # a job someone cancelled while another process ran it
OPEN_STATES = ("queued", "running")


class _Cancelled(Exception):
    """Raised inside a step's transaction to drop it: the job was cancelled meanwhile."""


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


# -- steps: each returns a function that persists its results in a transaction -------

Persist = Callable[[Connection], None]


def step_ingest(store: Store, version_id: int) -> Persist:
    with store.engine.connect() as conn:
        source = Path(queries.version_source(conn, version_id))
    if not source.exists():
        raise ArtifactError(source, "no such file or directory (moved before ingest finished?)")
    listed = list_files(source, DEFAULT_IGNORE)
    for _, p in listed:
        if p.is_symlink():
            raise ArtifactError(p, "is a symbolic link: register the files themselves")

    def claim(digest: str) -> None:
        # After the copy hashed it, before the store names or reuses the blob: the
        # collector leaves a claimed digest alone (registry/blobgc.py).
        _crash_point("ingest:claim")
        blobgc.claim(store, digest)

    # Each file is read once: the store hashes the bytes it copies (registry/blobs.py).
    stored = store.blobs.ingest([p for _, p in listed], claim)
    entries = [(rel, size, digest) for (rel, _), (digest, size) in zip(listed, stored, strict=True)]
    store.blobs.link_tree([(rel, d) for rel, _, d in entries], work_dir(store, version_id))

    def persist(conn: Connection) -> None:
        blobgc.confirm(conn, [d for _, _, d in entries])
        conn.execute(delete(schema.files).where(schema.files.c.version_id == version_id))
        if entries:
            conn.execute(
                schema.files.insert(),
                [
                    {"version_id": version_id, "path": r, "size": s, "sha256": d}
                    for r, s, d in entries
                ],
            )

    return persist


def work_tree(store: Store, version_id: int) -> Path:
    """The version's files on this host: built from the blob store when another host (or
    worker) ran the steps before this one, or a restart cleared the scratch space."""
    work = work_dir(store, version_id)
    if not work.is_dir():
        with store.engine.connect() as conn:
            entries = [(f.path, f.sha256) for f in queries.files(conn, version_id)]
        store.blobs.link_tree(entries, work)
    return work


def step_scan(store: Store, version_id: int) -> Persist:
    work = work_tree(store, version_id)
    try:
        body: dict[str, Any] = scan_paths([work]).to_json()
    except ScanError as exc:  # nothing the scanner can read: fail closed, not failed
        # (submit refused folders without a model, so these files declare one)
        body = {"verdict": "error", "error": strip_root(exc.message, work), "files": []}
    return lambda conn: put_report(conn, version_id, "scan", body)


def step_identity(store: Store, version_id: int) -> Persist:
    work = work_tree(store, version_id)
    # Ingest hashed every file into the content-addressed store: its SHA-256 digests are
    # these files' digests, so identity reads the bytes only for what ingest did not do.
    with store.engine.connect() as conn:
        known = {f.path: f.sha256 for f in queries.files(conn, version_id)}
    try:
        manifest = compute_manifest(work, algorithm="sha256", known=known)
    except ArtifactError:  # weights that cannot be read: files only; the fingerprint
        # step records why and the policy quarantines (weights not inspectable)
        manifest = compute_manifest(work, algorithm="sha256", tensors=False, known=known)

    def persist(conn: Connection) -> None:
        conn.execute(
            update(schema.versions)
            .where(schema.versions.c.id == version_id)
            .values(
                manifest=manifest.canonical_json().decode(),
                weights_digest=manifest.weights_digest,
                value_digest=manifest.value_digest,
            )
        )

    return persist


def step_fingerprint(store: Store, version_id: int) -> Persist:
    out = fp_path(store, version_id)
    work = work_tree(store, version_id)
    try:
        fp = fingerprint(work)
    except (ArtifactError, WeightwatchError) as exc:
        problem = weights_problem(work, str(exc.message))
        body: dict[str, Any] = {
            "fingerprinted": False,
            "reason": strip_root(str(exc.diagnostics()), work),
            "inspectable": None if problem is None else False,
            "problem": problem,
        }
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        fp.save(out.with_suffix(".tmp"))
        out.with_suffix(".tmp").replace(out)
        data = out.read_bytes()  # read here, not in the write transaction
        body = {
            "fingerprinted": True,
            "anchors": len(fp.anchors),
            "layers": fp.n_layers,
            "info": fp.info,
            "inspectable": True,
            "problem": None,
        }

        def persist(conn: Connection) -> None:
            fingerprints.put(conn, version_id, fp, data)
            put_report(conn, version_id, "fingerprint", body)

        return persist
    return lambda conn: put_report(conn, version_id, "fingerprint", body)


def step_lineage(store: Store, version_id: int) -> Persist:
    work = work_tree(store, version_id)
    bases = declared_bases(open_artifact(work, require_weights=False))
    declared, declared_relation = list(bases.names), bases.relation
    fp = fingerprints.load(store, version_id)
    fingerprints.catch_up(store)
    detected: list[dict[str, Any]] = []
    lineage_doc: dict[str, Any] | None = None
    related: list[tuple[int, str, float | None, float | None]] = []
    with store.engine.connect() as conn:
        complete = queries.complete_ids(conn)
        declared_ids = {d: queries.resolve_declared(conn, d) for d in declared}
        if fp is not None:
            matches = [
                m
                for m in store.index.search(fp, top=10)
                if m.name.isdigit() and int(m.name) in complete and int(m.name) != version_id
            ]
            related = [
                (int(m.name), m.comparison.relation, m.comparison.score, m.comparison.p_value)
                for m in matches
                if m.comparison.relation != "unrelated"
            ]
            labels = {m.name: version_label(conn, int(m.name)) for m in matches}
            relabelled = [
                dataclasses.replace(
                    m,
                    name=labels[m.name],
                    comparison=m.comparison.model_copy(
                        update={
                            "parent": labels[m.name],
                            "disagreements": disagreements_for(
                                m.comparison.relation,
                                m.comparison.declared_base_model,
                                m.comparison.declared_relation,
                                labels[m.name].rsplit("@", 1)[0],
                            ),
                        }
                    ),
                )
                for m in matches
            ]
            copies = conn.execute(
                select(schema.edges.c.child_id, schema.edges.c.parent_id).where(
                    and_(
                        schema.edges.c.child_id.in_([int(m.name) for m in matches]),
                        schema.edges.c.kind == "detected",
                        schema.edges.c.relation.in_(("identical", "quantized")),
                    )
                )
            ).all()
            originals = {
                labels[str(child)]: version_label(conn, int(parent)) for child, parent in copies
            }
            found = explain(relabelled, store.index, originals=originals)
            lineage_doc = found.model_dump(mode="json")
            by_label = {label: int(vid) for vid, label in labels.items()}
            for parent in found.parents:
                detected.append(
                    {
                        "parent_id": by_label[parent.name],
                        "relation": parent.relation,
                        "score": parent.score,
                        "p_value": parent.p_value,
                    }
                )
        matched = withdrawn.at_registration(conn, version_id, related)
    linked = {int(d["parent_id"]) for d in detected}
    detected += [  # a withdrawn original is drawn in the lineage even where another won
        {
            "parent_id": int(w["version_id"]),
            "relation": w["relation"],
            "score": w["score"],
            "p_value": w["p_value"],
        }
        for w in matched
        if int(w["version_id"]) not in linked
    ]
    body = {
        "declared": declared,
        "declared_relation": declared_relation,
        "declared_resolved": {k: v for k, v in declared_ids.items()},
        "detected": lineage_doc,
        "withdrawn": matched,
    }

    def persist(conn: Connection) -> None:
        conn.execute(delete(schema.edges).where(schema.edges.c.child_id == version_id))
        rows = [{"child_id": version_id, "kind": "detected", **d} for d in detected] + [
            {
                "child_id": version_id,
                "parent_id": pid,
                "kind": "declared",
                "relation": declared_relation or "unspecified",
                "score": None,
                "p_value": None,
            }
            for pid in {v for v in declared_ids.values() if v is not None}
        ]
        if rows:
            conn.execute(schema.edges.insert(), rows)
        put_report(conn, version_id, "lineage", body)

    return persist


def step_decide(store: Store, version_id: int, *, cause: str = "registration") -> Persist:
    work_tree(store, version_id)
    decision = decide(store, version_id)
    with store.engine.connect() as conn:
        label = queries.version_label(conn, version_id)
    mark = recipients.required(store, version_id, label, decision.decision)

    def persist(conn: Connection) -> None:
        v = queries.version_row(conn, version_id)
        label = v.label
        manifest = Manifest.model_validate_json(v.manifest or "")
        status = decision.status
        body: dict[str, Any] = {
            "model": label,
            "weights_digest": manifest.weights_digest,
            "value_digest": manifest.value_digest,
            "action": decision.action,
            "status": status,
            "reasons": decision.reasons,
            "cause": cause,
        }
        if mark is not None:  # a policy required a weight watermark: recorded publicly
            recipients.record(conn, version_id, mark)
            body["weight_watermark"] = {
                "deployment": mark.deployment,
                "scheme": mark.scheme,
                "master_key_id": mark.master_key_id,
                "files": sorted(mark.files),
            }
        kind = "registration" if v.state != "complete" else "decision"
        leaf = entry_leaf(kind, body, time=now())
        (log_index,) = store.log.append_many([(kind, leaf)], conn=conn)
        put_report(conn, version_id, "facts", decision.facts)
        put_report(conn, version_id, "decision", decision.decision)
        conn.execute(
            schema.decisions.insert().values(
                version_id=version_id,
                action=decision.action,
                status=status,
                reasons=json.dumps(decision.reasons),
                cause=cause,
                log_index=log_index,
                created_at=now(),
            )
        )
        if v.state != "complete":  # first decision: attest, index and make it visible
            stmt = statement(manifest, model_name=label, ignore=list(DEFAULT_IGNORE))
            bundle = sign_statement(stmt, store.signer)
            conn.execute(
                delete(schema.attestations).where(schema.attestations.c.version_id == version_id)
            )
            conn.execute(
                schema.attestations.insert().values(
                    version_id=version_id,
                    bundle=json.dumps(bundle, sort_keys=True),
                    key_id=store.signer.key_id,
                    log_index=log_index,
                )
            )
            fingerprints.publish(conn, version_id)  # every host's index adds it
        conn.execute(
            update(schema.versions)
            .where(schema.versions.c.id == version_id)
            .values(state="complete", status=status, completed_at=v.completed_at or now())
        )

    return persist


STEP_FUNCS: dict[str, Callable[[Store, int], Persist]] = {
    "ingest": step_ingest,
    "scan": step_scan,
    "identity": step_identity,
    "fingerprint": step_fingerprint,
    "lineage": step_lineage,
    "decide": step_decide,
}


def run_job(
    store: Store,
    job_id: int,
    *,
    owner: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> str:
    """Run a job's remaining steps; returns its final state (``done`` or ``failed``, or
    ``cancelled`` when someone cancelled it: then it is rolled back)."""
    me = owner or owner_id()
    while True:
        with store.write.begin() as conn:
            job = conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).first()
            if job is None:
                raise RegistryError(f"no job {job_id}")
            if job.state in ("done", "failed"):
                return str(job.state)
            if job.state == CANCELLED:
                if job.owner not in (me, None) and alive(job.owner):
                    return CANCELLED  # its live owner rolls it back
                break
            if job.state == "running" and job.owner not in (me, None) and alive(job.owner):
                return "running"  # another live worker holds it
            conn.execute(
                update(schema.jobs)
                .where(schema.jobs.c.id == job_id)
                .values(state="running", owner=me, attempts=job.attempts + 1, updated_at=now())
            )
        step, version_id = str(job.step), int(job.version_id)
        if on_step is not None:
            on_step(step)
        try:
            persist = STEP_FUNCS[step](store, version_id)
        except WeightwatchError as exc:
            _fail(store, job_id, version_id, f"{step}: {exc.diagnostics()}")
            return "failed"
        nxt = STEPS[STEPS.index(step) + 1]
        _crash_point(f"{step}:before")
        try:
            with store.write.begin() as conn:
                moved = conn.execute(
                    update(schema.jobs)
                    .where(and_(schema.jobs.c.id == job_id, schema.jobs.c.state == "running"))
                    .values(
                        step=nxt, state="done" if nxt == "done" else "running", updated_at=now()
                    )
                ).rowcount
                if not moved:  # cancelled meanwhile: commit nothing of this step
                    raise _Cancelled
                persist(conn)
        except _Cancelled:
            break
        _crash_point(step)
    rollback(store, job_id)
    return CANCELLED


def _fail(store: Store, job_id: int, version_id: int, error: str) -> None:
    with store.write.begin() as conn:
        conn.execute(
            update(schema.jobs)
            .where(schema.jobs.c.id == job_id)
            .values(state="failed", error=error, updated_at=now())
        )
        conn.execute(
            update(schema.versions)
            .where(schema.versions.c.id == version_id)
            .values(state="failed", status="failed", error=error)
        )


def _delete_version(conn: Connection, job_id: int, version_id: int) -> None:
    conn.execute(
        update(schema.uploads)
        .where(schema.uploads.c.job_id == job_id)
        .values(job_id=None, state="aborted", error="registration cancelled", updated_at=now())
    )
    conn.execute(delete(schema.jobs).where(schema.jobs.c.id == job_id))
    conn.execute(delete(schema.files).where(schema.files.c.version_id == version_id))
    conn.execute(delete(schema.reports).where(schema.reports.c.version_id == version_id))
    conn.execute(delete(schema.edges).where(schema.edges.c.child_id == version_id))
    conn.execute(delete(schema.fingerprints).where(schema.fingerprints.c.version_id == version_id))
    conn.execute(delete(schema.versions).where(schema.versions.c.id == version_id))


def rollback(store: Store, job_id: int) -> bool:
    """Remove a registration that has not completed; False if there is none to remove
    (it completed, failed, or was already rolled back)."""
    with store.write.begin() as conn:
        job = conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).first()
        if job is None or job.state not in (*OPEN_STATES, CANCELLED):
            return False
        version_id = int(job.version_id)
        state = conn.execute(
            select(schema.versions.c.state).where(schema.versions.c.id == version_id)
        ).scalar_one()
        if state == "complete":
            return False
        _delete_version(conn, job_id, version_id)
    shutil.rmtree(work_dir(store, version_id), ignore_errors=True)
    fp_path(store, version_id).unlink(missing_ok=True)
    return True


def alive(owner: str | None) -> bool:
    """Is the process that holds a job still running (same host only; others assumed so)?"""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def unfinished(store: Store) -> list[int]:
    """Jobs a crash or restart left queued or running with a dead owner."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.jobs.c.id, schema.jobs.c.state, schema.jobs.c.owner).where(
                schema.jobs.c.state.in_(("queued", "running"))
            )
        ).all()
    return [int(r[0]) for r in rows if r[1] == "queued" or not alive(r[2])]
