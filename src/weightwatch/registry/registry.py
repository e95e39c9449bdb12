"""The registry's public API: register, look up, trace lineage, take down, reinstate,
release from quarantine — and every read the server needs, so no code outside this
package touches the tables.

All writes go through the pipeline (registrations) or one transaction each (takedowns,
releases), and every decision and moderation action lands in the transparency log and,
inside the same transaction, in the action log. Reports are pydantic models with a
stable JSON form.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, and_, func, select

from weightwatch.attest.checkpoint import checkpoint_size
from weightwatch.attest.keys import KeyVerifier
from weightwatch.attest.tlog_client import WitnessEndpoint
from weightwatch.errors import ArtifactError, NotFound, RegistryError, UsageError
from weightwatch.identity.hashing import hash_file
from weightwatch.identity.manifest import DEFAULT_IGNORE, list_files
from weightwatch.registry import (
    blobgc,
    evidence,
    fingerprints,
    lineage_graph,
    moderation,
    notify,
    queries,
    redaction,
    schema,
    webhooks,
    witnessing,
)
from weightwatch.registry.access import Grant, Principal, request_access
from weightwatch.registry.blob_migration import Migrated, migrate_blobs
from weightwatch.registry.blobgc import Collected
from weightwatch.registry.fingerprints import Backfilled
from weightwatch.registry.inspectable import refuse_without_model
from weightwatch.registry.jobs import JobView, cancel, open_jobs
from weightwatch.registry.lineage_graph import LineageGraph
from weightwatch.registry.pipeline import rollback, run_job, step_decide, unfinished
from weightwatch.registry.queries import FileRow, VersionRow
from weightwatch.registry.recall import Notice, RecallReport, notices_for, recall
from weightwatch.registry.runners import InlineRunner, Runner, make_runner
from weightwatch.registry.states import Access, Moderation, Status, applied_access, values
from weightwatch.registry.store import Store, now, open_store, parse_name, parse_ref
from weightwatch.registry.views import (
    DecisionProof,
    DecisionView,
    EdgeView,
    ModerationView,
    TreeNode,
    VersionView,
)
from weightwatch.registry.visibility import Visibility, visibility
from weightwatch.watermark.deployments import WatermarkDeployment
from weightwatch.watermark.recipients import recipient_lines

ACCESS = values(Access)

__all__ = [
    "ACCESS",
    "DecisionProof",
    "DecisionView",
    "EdgeView",
    "ModerationView",
    "Registry",
    "TreeNode",
    "VersionView",
]


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM off while a rollback runs (main thread only), so a second
    Ctrl-C cannot leave a half-removed registration; re-raised once it is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    handlers = {s: signal.signal(s, lambda n, f: got.append(n)) for s in _DEFERRED}
    try:
        yield
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    if got:
        raise KeyboardInterrupt


_DEFERRED = (signal.SIGINT, signal.SIGTERM)
_Shown = TypeVar("_Shown")


class Registry:
    """A registry opened on a data directory (and database)."""

    def __init__(self, store: Store, *, runner: str = "inline") -> None:
        self.store = store
        self.runner: Runner = make_runner(runner, store)
        # Webhook events are queued in the database; ``deliver_inline`` sends the first
        # attempt right after the action (the CLI); the server turns it off and runs a
        # delivery loop instead. ``webhook_backoff``: seconds between retries.
        self.deliver_inline = True
        self.webhook_backoff: tuple[float, ...] = webhooks.BACKOFF

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        *,
        init: bool = False,
        runner: str = "inline",
        blobs: str | None = None,
    ) -> Registry:
        store = open_store(Path(root) if root else None, db_url, init=init, blobs=blobs)
        return cls(store, runner=runner)

    def close(self) -> None:
        self.store.engine.dispose()

    # -- the blob store ----------------------------------------------------------------
    def collect_blobs(self, *, grace: float = blobgc.GRACE, dry_run: bool = False) -> Collected:
        """Delete blobs no version references (``registry/blobgc.py`` has the protocol)."""
        return blobgc.collect(self.store, grace=grace, dry_run=dry_run)

    def migrate_blobs(self, target: str) -> Migrated:
        """Copy every referenced blob to the store ``target`` names (verified, resumable)."""
        return migrate_blobs(self.store, target)

    def reindex(self) -> Backfilled:
        """Copy fingerprints registered before the database held them into it, and list
        them for every host's index (idempotent; ``fingerprints.backfill``)."""
        return fingerprints.backfill(self.store)

    # -- registering -------------------------------------------------------------------
    def submit(self, path: str | os.PathLike[str], name: str, *, access: str = "public") -> int:
        """Create a pending version and its job; returns the job id (nothing visible yet)."""
        if access not in ACCESS:
            raise UsageError(f"access must be one of {', '.join(ACCESS)}, not {access!r}")
        source = Path(path)
        if not source.exists():
            raise ArtifactError(source, "no such file or directory")
        refuse_without_model(source)
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
        self,
        path: str | os.PathLike[str],
        name: str,
        *,
        access: str = "public",
        on_step: Callable[[str], None] | None = None,
    ) -> VersionView:
        """Run the whole pipeline for ``path`` as a new version of ``name``; with the
        inline runner, ``on_step(step)`` is called as each step starts. An exception
        (Ctrl-C included) rolls the pending version back."""
        job_id = self.submit(path, name, access=access)
        try:
            if on_step is not None and isinstance(self.runner, InlineRunner):
                run_job(self.store, job_id, on_step=on_step)
            else:
                self.runner.run([job_id])
        except BaseException:  # Ctrl-C, SIGTERM, a crash in a step: nothing stays pending
            with _signals_deferred():
                rollback(self.store, job_id)
            raise
        if not self._job_exists(job_id):
            raise RegistryError(f"the registration of {name} was cancelled")
        return self.version_of_job(job_id)

    def identical_version(self, path: str | os.PathLike[str], name: str) -> VersionView | None:
        """The newest complete version of ``name`` if its files are exactly those at
        ``path`` (same paths, sizes and SHA-256), else None. Sizes are compared first,
        so a changed model costs no hashing."""
        source = Path(path)
        if not source.exists():
            raise ArtifactError(source, "no such file or directory")
        ns, model = parse_name(name)
        rows = self.versions_of(ns, model)
        if not rows:
            return None
        stored = {f.path: f for f in self.files(rows[0].id)}
        local = list_files(source, DEFAULT_IGNORE)
        if len(local) != len(stored) or any(
            rel not in stored or p.stat().st_size != stored[rel].size for rel, p in local
        ):
            return None
        if any(hash_file(p, "sha256") != stored[rel].sha256 for rel, p in local):
            return None
        return self.view(rows[0].id)

    def _job_exists(self, job_id: int) -> bool:
        with self.store.engine.connect() as conn:
            found = conn.execute(select(schema.jobs.c.id).where(schema.jobs.c.id == job_id))
            return found.first() is not None

    def jobs(self) -> list[JobView]:
        """Registrations not finished yet: queued, running, or being cancelled."""
        return open_jobs(self.store)

    def cancel(self, job_id: int) -> str:
        """Cancel a registration (see :mod:`weightwatch.registry.jobs`)."""
        return cancel(self.store, job_id)

    def resumable(self) -> list[JobView]:
        """What :meth:`resume` would finish (and, if the policy allows, publish)."""
        ids = set(unfinished(self.store))
        return [j for j in open_jobs(self.store) if j.job in ids]

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
    def _read(self) -> Connection:
        return self.store.engine.connect()

    def version_id(self, ref: str, *, any_state: bool = False) -> int:
        """The id of ``namespace/name[@number]`` (newest complete version by default)."""
        with self._read() as conn:
            return queries.version_id(conn, ref, any_state=any_state)

    def resolve(self, namespace: str, name: str, revision: str | int | None = None) -> VersionRow:
        """The complete version a revision names: ``None``/``main`` (the newest), a number,
        ``vN``, or a commit id (:attr:`VersionRow.commit`). RegistryError if none."""
        rows = self.versions_of(namespace, name)
        if not rows:
            raise RegistryError(f"no model {namespace}/{name}")
        if revision is None or revision == "main":
            return rows[0]
        for r in rows:
            if str(revision) in (r.commit, f"v{r.number}", str(r.number)):
                return r
        raise RegistryError(f"no revision {revision!r} of {namespace}/{name}")

    def versions_of(self, namespace: str, name: str) -> list[VersionRow]:
        """A model's complete versions, newest first."""
        with self._read() as conn:
            return queries.complete_versions(conn, namespace=namespace, name=name)

    def catalogue(self, *, search: str | None = None) -> list[VersionRow]:
        """Every complete version, by model name and newest first within a model."""
        with self._read() as conn:
            return queries.complete_versions(conn, search=search)

    def visibility(self, who: Principal | None, version: VersionRow) -> Visibility:
        """Who sees what of ``version`` (the one rule: ``registry.visibility``)."""
        return visibility(self.store, who, version)

    def visible_versions(
        self, who: Principal | None, namespace: str, name: str
    ) -> list[VersionRow]:
        """The versions of a model whose record ``who`` may see, newest first."""
        return [r for r in self.versions_of(namespace, name) if self.visibility(who, r).exists]

    def request_access(
        self,
        who: Principal,
        namespace: str,
        name: str,
        answers: dict[str, Any],
        *,
        client: str | None = None,
    ) -> Grant:
        """File ``who``'s access request to a gated model: the one check every caller (API,
        web form) goes through. ``NotFound`` when ``who`` may not see the model (exactly as
        for one that does not exist); ``RegistryError`` when its newest visible version is
        not gated (public, restricted, quarantined, withdrawn: nothing to request)."""
        label = f"{namespace}/{name}"
        seen = self.visible_versions(who, namespace, name)
        if not seen:
            raise NotFound(f"no model {label}")
        if seen[0].status != Status.GATED:
            raise RegistryError(f"{label} is {seen[0].status}, not gated: nothing to request")
        return request_access(self.store, label, who, answers, client=client)

    def newest_visible(
        self,
        who: Principal | None,
        *,
        search: str | None = None,
        status: str | None = None,
        access: str | None = None,
        licence: str | None = None,
        relation: str | None = None,
    ) -> list[VersionRow]:
        """The newest version of each model whose record ``who`` may see, by name, kept
        if it has ``status``, the ``access`` that applies now (``applied_access``), the
        declared ``licence`` (case-insensitive) and a parent by ``relation`` (``none``:
        no parent)."""
        seen: set[str] = set()
        out: list[VersionRow] = []
        for r in self.catalogue(search=search):
            if r.model not in seen and self.visibility(who, r).exists:
                seen.add(r.model)
                out.append(r)
        if status:
            out = [r for r in out if r.status == status]
        if access:
            out = [r for r in out if applied_access(r.status) == access]
        if licence or relation:
            ids = {r.id for r in out}
            with self._read() as conn:
                lic = queries.licences(conn, ids) if licence else {}
                rel = queries.parent_relations(conn, ids) if relation else {}
            if licence:
                out = [r for r in out if lic.get(r.id, "").lower() == licence.lower()]
            if relation == "none":
                out = [r for r in out if not rel.get(r.id)]
            elif relation:
                out = [r for r in out if relation in rel.get(r.id, set())]
        return out

    def licences(self, ids: set[int]) -> dict[int, str]:
        """Each version's declared licence (catalogue id where recognised)."""
        with self._read() as conn:
            return queries.licences(conn, ids)

    def download_counts(self, ids: set[int]) -> dict[int, int]:
        """Files served per version, from the download log (0 where never downloaded)."""
        with self._read() as conn:
            counts = queries.download_counts(conn, ids)
        return {i: counts.get(i, 0) for i in ids}

    def lineage_graph(self, ref: str, who: Principal | None = None) -> LineageGraph:
        """The version's ancestors and descendants (:mod:`lineage_graph`) that ``who``
        may see, and only those still connected to it through visible versions."""
        with self._read() as conn:
            graph = lineage_graph.read(conn, queries.version_id(conn, ref))
        return graph.prune(lambda n: self.label_visible(who, n.model))

    def redacted(self, who: Principal | None, doc: _Shown) -> _Shown:
        """``doc`` (a stored report's JSON, or a view) with every version ``who`` may not
        see named ``redaction.HIDDEN`` (see ``redaction``)."""
        if doc is None:
            return doc
        text = doc.model_dump_json() if isinstance(doc, BaseModel) else json.dumps(doc)
        hidden = sorted(
            label for label in redaction.mentioned(text) if not self._label_seen(who, label)
        )
        if not hidden:
            return doc
        text = redaction.redact(text, hidden)
        if isinstance(doc, BaseModel):
            return type(doc).model_validate_json(text)
        shown: _Shown = json.loads(text)
        return shown

    def _label_seen(self, who: Principal | None, label: str) -> bool:
        try:
            return self.label_visible(who, label)
        except (UsageError, RegistryError):
            return False

    def label_visible(self, who: Principal | None, label: str) -> bool:
        """Whether ``who`` may see the version ``namespace/name@number``."""
        ns, model, number = parse_ref(label)
        return any(
            r.number == number and self.visibility(who, r).exists
            for r in self.versions_of(ns, model)
        )

    def model_id(self, name: str) -> int | None:
        ns, model = parse_name(name)
        with self._read() as conn:
            return queries.model_id(conn, ns, model)

    def status(self, ref: str) -> VersionView:
        with self._read() as conn:
            return self._view(conn, queries.version_id(conn, ref))

    def view(self, version_id: int) -> VersionView:
        with self._read() as conn:
            return self._view(conn, version_id)

    def views(self, ids: list[int]) -> list[VersionView]:
        with self._read() as conn:
            return [self._view(conn, vid) for vid in ids]

    def versions(self) -> list[VersionView]:
        with self._read() as conn:
            return [self._view(conn, r.id) for r in queries.complete_versions(conn)]

    def files(self, version_id: int) -> list[FileRow]:
        with self._read() as conn:
            return queries.files(conn, version_id)

    def report(self, version_id: int, kind: str) -> Any:
        """A stored report's JSON (scan, facts, decision, lineage, fingerprint, audit)."""
        with self._read() as conn:
            return queries.report(conn, version_id, kind)

    def attestation(self, version_id: int) -> Any:
        """The attestation (``bundle`` JSON, ``key_id``, ``log_index``), or ``None``."""
        with self._read() as conn:
            return queries.attestation(conn, version_id)

    def last_takedown(self, version_id: int) -> queries.ModerationRow | None:
        with self._read() as conn:
            rows = queries.moderations(conn, version_id, action=Moderation.TAKEDOWN)
        return rows[-1] if rows else None

    def labels(self, ids: set[int]) -> dict[int, tuple[str, str]]:
        with self._read() as conn:
            return queries.labels(conn, ids)

    def namespaces(self) -> dict[str, str]:
        """Namespace → owning organisation."""
        with self._read() as conn:
            return queries.namespaces(conn)

    def org_members(self, org: str) -> list[str]:
        with self._read() as conn:
            return queries.org_members(conn, org)

    def watermark_records(self, key_ids: list[str]) -> list[WatermarkDeployment]:
        with self._read() as conn:
            rows = queries.watermark_records(conn, key_ids=key_ids)
        return [WatermarkDeployment.model_validate_json(r) for r in rows]

    def downloads(
        self, *, limit: int, before: int | None = None, user: str | None = None
    ) -> list[Any]:
        """The download log, newest first (rows with namespace, name and number)."""
        with self._read() as conn:
            return queries.downloads(conn, limit=limit, before=before, user=user)

    def _decisions(self, conn: Connection, vid: int) -> list[DecisionView]:
        return [
            DecisionView(
                action=r.action,
                status=r.status,
                reasons=json.loads(r.reasons),
                cause=r.cause,
                log_index=r.log_index,
                created_at=r.created_at,
            )
            for r in queries.decision_rows(conn, vid)
        ]

    def _edges(self, conn: Connection, vid: int, *, parents: bool) -> list[EdgeView]:
        rows = queries.edge_rows(conn, vid, parents=parents)
        names = queries.labels(conn, {int(r.other) for r in rows})
        return [
            EdgeView(
                model=names[int(r.other)][0],
                kind=r.kind,
                relation=r.relation,
                score=r.score,
                p_value=r.p_value,
            )
            for r in rows
        ]

    def _view(self, conn: Connection, vid: int) -> VersionView:
        v = conn.execute(select(schema.versions).where(schema.versions.c.id == vid)).first()
        if v is None:
            raise RegistryError(f"no version {vid}")
        scan = queries.report(conn, vid, "scan")
        history = self._decisions(conn, vid)
        return VersionView(
            model=queries.version_label(conn, vid),
            state=v.state,
            status=v.status,
            access=v.access,
            weights_digest=v.weights_digest,
            value_digest=v.value_digest,
            files=queries.file_count(conn, vid),
            scan_verdict=scan.get("verdict") if isinstance(scan, dict) else None,
            decision=history[-1] if history else None,
            history=history,
            moderation=[ModerationView(**m.__dict__) for m in queries.moderations(conn, vid)],
            parents=self._edges(conn, vid, parents=True),
            children=self._edges(conn, vid, parents=False),
            watermarks=[
                f"{d.deployment} ({d.scheme}): key id {d.key_id}"
                for d in (
                    WatermarkDeployment.model_validate_json(r)
                    for r in queries.watermark_records(conn, version_id=vid)
                )
            ]
            + recipient_lines(queries.recipient_marking(conn, vid)),
            error=v.error,
        )

    def lineage_tree(self, ref: str) -> TreeNode:
        """The version's descendants (by detected or declared edges) as a tree; a child
        both declared and detected is one node. One query per generation."""
        with self._read() as conn:
            return lineage_graph.descendant_tree(conn, queries.version_id(conn, ref))

    def visible_tree(self, who: Principal | None, ref: str) -> TreeNode:
        """The lineage tree without the versions ``who`` may not see (nor what hangs
        below them)."""

        def prune(node: TreeNode) -> TreeNode:
            kids = [prune(c) for c in node.children if self.label_visible(who, c.model)]
            return node.model_copy(update={"children": kids})

        return prune(self.lineage_tree(ref))

    def descendants(self, conn: Connection, vid: int) -> list[int]:
        return queries.descendants(conn, vid)

    # -- moderation ------------------------------------------------------------------------
    def takedown(
        self, ref: str, *, reason: str, actor: str = "cli", client: str | None = None
    ) -> VersionView:
        """Block a version, log it, and re-decide every known descendant."""
        return self._set_down(ref, reason=reason, actor=actor, client=client, down=True)

    def reinstate(
        self, ref: str, *, reason: str, actor: str = "cli", client: str | None = None
    ) -> VersionView:
        """Undo a takedown (logged); the version and its descendants are decided afresh."""
        return self._set_down(ref, reason=reason, actor=actor, client=client, down=False)

    def _set_down(
        self, ref: str, *, reason: str, actor: str, client: str | None, down: bool
    ) -> VersionView:
        vid, label, affected = moderation.set_down(
            self.store, ref, reason=reason, actor=actor, client=client, down=down
        )
        action = Moderation.TAKEDOWN if down else Moderation.REINSTATEMENT
        if not down:
            self._redecide(vid, cause=f"reinstatement of {label}")
        for child in affected:
            self._redecide(child, cause=f"{action} of {label}")
        event = "model.takedown" if down else "model.reinstate"
        notify.moderation_events(self.store, vid, event=event, reason=reason, actor=actor)
        self.deliver_webhooks()
        return self.status(label)

    # -- recall notices and webhooks ---------------------------------------------------------
    def recall(self, ref: str) -> RecallReport:
        """Everyone who was served ``ref`` or any of its descendants (staff only: the
        caller checks), with what and when."""
        with self._read() as conn:
            return recall(conn, queries.version_id(conn, ref))

    def notices(self, user: str) -> list[Notice]:
        """The versions ``user`` downloaded that are now taken down, blocked or
        quarantined."""
        with self._read() as conn:
            return notices_for(conn, user)

    def deliver_webhooks(self) -> int:
        """Send the webhook deliveries that are due (one attempt each) when delivering
        inline; the server's loop calls :func:`webhooks.deliver_due` itself."""
        if not self.deliver_inline:
            return 0
        return webhooks.deliver_due(self.store, backoff=self.webhook_backoff)

    def release(
        self, ref: str, *, reason: str, actor: str = "cli", client: str | None = None
    ) -> VersionView:
        """Release a quarantined version after review: the quarantine reasons of its
        current decision stop counting, and it gets the status the policy gives it without
        them (its requested tier, or a gate that still applies). Logged as a decision with
        cause ``release by <actor>``; its descendants are re-decided. Blocks are never
        released, and a quarantine reason the release did not cover quarantines it again."""
        vid, label, affected = moderation.release(
            self.store, ref, reason=reason, actor=actor, client=client
        )
        self._redecide(vid, cause=f"release by {actor}")
        for child in affected:
            self._redecide(child, cause=f"release of {label}")
        return self.status(label)

    def _redecide(self, vid: int, *, cause: str) -> None:
        persist = step_decide(self.store, vid, cause=cause)
        with self.store.write.begin() as conn:
            persist(conn)

    # -- audits and weight diffs (parsed and checked in ``evidence``) ----------------------
    def add_audit(self, ref: str, summary: dict[str, Any]) -> VersionView:
        """Attach a base-vs-derivative safety audit (``audit compare --json``) and
        re-decide: a derivative whose safety was stripped is a fact the policy weighs."""
        doc = evidence.audit_doc(summary)
        with self.store.write.begin() as conn:
            vid = queries.version_id(conn, ref)
            queries.put_report(conn, vid, "audit", doc)
            label = queries.version_label(conn, vid)
        self._redecide(vid, cause=f"audit of {label}")
        return self.status(label)

    def add_signed_audit(self, ref: str, bundle: dict[str, Any], auditor: Any) -> dict[str, Any]:
        """Attach a signed audit comparison (``weightwatch audit sign``) to ``ref``: check
        the auditor's signature (``auditor``: a public key verifier) and that the statement's
        derivative is this version's registered weights, append it to the transparency log,
        record it as the version's audit (``logged``) and re-decide. Returns the bundle with
        the log's inclusion proof and signed checkpoint under ``weightwatchLog``."""
        from weightwatch.audit.attestation import LOG_KEY

        with self.store.write.begin() as conn:
            vid = queries.version_id(conn, ref)
            idx = evidence.log_signed_audit(self.store, conn, vid, bundle, auditor)
            label = queries.version_label(conn, vid)
        self._redecide(vid, cause=f"logged audit of {label}")
        return {**bundle, LOG_KEY: self._inclusion(idx).model_dump()}

    def add_forensics(
        self, ref: str, report: dict[str, Any] | None = None, *, base: str | None = None
    ) -> VersionView:
        """Record the weight diff of ``ref`` against a base and re-decide: an abliteration
        signature is a fact the policy weighs.

        When ``base`` is a registered version the registry computes the diff itself from
        both versions' stored weights and an attached ``report`` is not trusted (it is
        ignored, and where its derivation differs that is noted). Only for a base outside
        the registry is the attached report (``weightwatch diff --json``) recorded as given.
        """
        attached = evidence.attached_diff(report)
        base_vid = self._registered(base)
        if base_vid is not None:
            parsed = evidence.compute_diff(
                self.store, self._stored(base_vid), self._stored(self.version_id(ref))
            )
        elif attached is not None:
            parsed = attached
        else:
            raise UsageError(
                f"{ref}: no weight diff to record",
                hint="give --base NAMESPACE/NAME@VERSION of a registered base, or --report",
            )
        doc = evidence.forensics_doc(parsed, attached, base, computed=base_vid is not None)
        with self.store.write.begin() as conn:
            vid = queries.version_id(conn, ref)
            queries.put_report(conn, vid, "forensics", doc)
            label = queries.version_label(conn, vid)
        self._redecide(vid, cause=f"weight diff of {label}")
        return self.status(label)

    def _registered(self, ref: str | None) -> int | None:
        if ref is None:
            return None
        try:
            return self.version_id(ref)
        except RegistryError:
            return None

    def _stored(self, vid: int) -> tuple[str, list[tuple[str, str]]]:
        """A version's label and its files as (path, sha256)."""
        with self._read() as conn:
            label = queries.version_label(conn, vid)
        return label, [(f.path, f.sha256) for f in self.files(vid)]

    # -- watermarks -----------------------------------------------------------------------
    def add_watermark(self, ref: str, deployment: WatermarkDeployment) -> None:
        """Record that ``ref`` is served by a watermarked deployment (public record only)."""
        with self.store.write.begin() as conn:
            vid = queries.version_id(conn, ref)
            owner = queries.watermark_owner(conn, deployment.key_id)
            if owner is not None:
                raise RegistryError(
                    f"key id {deployment.key_id} is already recorded for "
                    f"{queries.version_label(conn, int(owner))}"
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
        with self._read() as conn:
            vid = queries.version_id(conn, ref)
            rows = queries.watermark_records(conn, version_id=vid)
        return [WatermarkDeployment.model_validate_json(r) for r in rows]

    def version_for_key(self, key_id: str) -> str:
        """Which registered version a watermark key id belongs to."""
        with self._read() as conn:
            owner = queries.watermark_owner(conn, key_id)
            if owner is None:
                raise RegistryError(f"no registered version uses watermark key id {key_id}")
            return queries.version_label(conn, int(owner))

    # -- proofs ----------------------------------------------------------------------------
    def checkpoint(self) -> str:
        """The log's current signed checkpoint (C2SP signed note)."""
        return self.store.log.checkpoint(self.store.signer, origin=self.store.origin)

    def verifier(self) -> KeyVerifier:
        """The registry's public signing key, to check what it signed (bundles, BOMs)."""
        return KeyVerifier(self.store.signer.public_key, self.store.signer.key_id)

    def log_vkey(self) -> str:
        """The log's note verifier key (``origin+keyid+key``) for tile clients and witnesses."""
        return witnessing.log_key(self.store).vkey()

    def set_log_origin(self, origin: str) -> None:
        witnessing.set_origin(self.store, origin)

    def cosign_checkpoint(self, witnesses: Sequence[WitnessEndpoint]) -> tuple[str, dict[str, str]]:
        """Collect witness cosignatures on the current checkpoint (see ``witnessing``)."""
        return witnessing.cosign(self.store, self.checkpoint(), witnesses)

    def decision_proof(self, ref: str) -> dict[str, Any]:
        """The version's latest logged event — its latest decision, or a later takedown or
        reinstatement — with its inclusion proof under a signed checkpoint."""
        with self._read() as conn:
            idx = queries.latest_logged_index(conn, queries.version_id(conn, ref))
        if idx is None:
            raise RegistryError(f"{ref}: no logged decision")
        return self._inclusion(idx).model_dump()

    def _inclusion(self, idx: int) -> DecisionProof:
        """Log entry ``idx`` with its inclusion proof under the current signed checkpoint."""
        note = self.checkpoint()
        return DecisionProof(
            index=idx,
            leaf=self.store.log.entry(idx).leaf.decode(),
            hashes=[h.hex() for h in self.store.log.inclusion_proof(idx, checkpoint_size(note))],
            checkpoint=note,
        )
