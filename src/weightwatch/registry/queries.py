"""Every read of the registry's tables, as functions of a connection.

The one place where "the newest complete version of a model", "a version's files" or
"its latest logged event" is written. The registry's services (``registry.py``,
``pipeline.py``, ``decide.py``, ``access.py``) call these inside their own transactions;
code outside the package goes through :class:`~weightwatch.registry.Registry`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, select

from weightwatch.errors import RegistryError
from weightwatch.registry import schema
from weightwatch.registry.states import Moderation, State
from weightwatch.registry.store import now, parse_ref


@dataclass(frozen=True)
class VersionRow:
    """One version as stored: what visibility, resolution and listings need."""

    id: int
    model_id: int
    namespace: str
    name: str
    number: int
    state: str
    status: str
    access: str
    manifest: str | None
    completed_at: str | None

    @property
    def model(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}@{self.number}"

    @property
    def commit(self) -> str:
        """The version's 40-hex commit id (as the Hub names revisions): the SHA-256 of its
        canonical manifest, truncated like a git id."""
        return hashlib.sha256((self.manifest or "").encode()).hexdigest()[:40]


@dataclass(frozen=True)
class FileRow:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModerationRow:
    """A takedown, reinstatement or release: who, why, when, and its log entry."""

    action: str
    actor: str
    reason: str
    log_index: int
    created_at: str


def _versions() -> Select[Any]:
    v, m = schema.versions.c, schema.models.c
    return select(
        v.id,
        v.model_id,
        m.namespace,
        m.name,
        v.number,
        v.state,
        v.status,
        v.access,
        v.manifest,
        v.completed_at,
    ).join(schema.models, m.id == v.model_id)


def _row(r: Any) -> VersionRow:
    return VersionRow(
        int(r.id),
        int(r.model_id),
        r.namespace,
        r.name,
        int(r.number),
        r.state,
        r.status,
        r.access,
        r.manifest,
        r.completed_at,
    )


# -- versions --------------------------------------------------------------------------
def complete_versions(
    conn: Connection,
    *,
    namespace: str | None = None,
    name: str | None = None,
    search: str | None = None,
) -> list[VersionRow]:
    """Complete versions by model name, newest first within a model; ``search`` matches a
    substring of ``namespace/name`` with SQL wildcards taken literally."""
    v, m = schema.versions.c, schema.models.c
    q = _versions().where(v.state == State.COMPLETE)
    if namespace is not None:
        q = q.where(m.namespace == namespace)
    if name is not None:
        q = q.where(m.name == name)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where((m.namespace + "/" + m.name).ilike(pattern, escape="\\"))
    q = q.order_by(m.namespace, m.name, v.number.desc())
    return [_row(r) for r in conn.execute(q)]


def version_row(conn: Connection, version_id: int) -> VersionRow:
    r = conn.execute(_versions().where(schema.versions.c.id == version_id)).first()
    if r is None:
        raise RegistryError(f"no version {version_id}")
    return _row(r)


def latest_complete_id(conn: Connection, namespace: str, name: str) -> int | None:
    """The newest complete version of ``namespace/name``, if any."""
    rows = complete_versions(conn, namespace=namespace, name=name)
    return rows[0].id if rows else None


def latest_complete_of(conn: Connection, model_id: int) -> int | None:
    """The newest complete version of the model with id ``model_id``, if any."""
    v = schema.versions.c
    q = select(v.id).where(and_(v.model_id == model_id, v.state == State.COMPLETE))
    vid = conn.execute(q.order_by(v.number.desc()).limit(1)).scalar_one_or_none()
    return None if vid is None else int(vid)


def version_id(conn: Connection, ref: str, *, any_state: bool = False) -> int:
    """The id ``namespace/name[@number]`` names (newest complete version by default)."""
    ns, model, number = parse_ref(ref)
    v, m = schema.versions.c, schema.models.c
    q = select(v.id).join(schema.models, m.id == v.model_id)
    q = q.where(and_(m.namespace == ns, m.name == model))
    if not any_state:
        q = q.where(v.state == State.COMPLETE)
    if number is not None:
        q = q.where(v.number == number)
    row = conn.execute(q.order_by(v.number.desc())).first()
    if row is None:
        raise RegistryError(f"no registered version {ref!r}")
    return int(row[0])


def version_source(conn: Connection, version_id: int) -> str:
    """Where a version was registered from (a folder the pipeline ingests)."""
    v = schema.versions.c
    source = conn.execute(select(v.source).where(v.id == version_id)).scalar_one_or_none()
    if source is None:
        raise RegistryError(f"no version {version_id}")
    return str(source)


def resolve_declared(conn: Connection, name: str) -> int | None:
    """The newest complete version a card's ``base_model`` id names, if registered here."""
    if "/" not in name:
        return None
    ns, _, model = name.partition("/")
    return latest_complete_id(conn, ns, model)


def version_label(conn: Connection, version_id: int) -> str:
    return version_row(conn, version_id).label


def labels(conn: Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
    """``namespace/name@number`` and status of each version, in one query."""
    if not ids:
        return {}
    rows = conn.execute(_versions().where(schema.versions.c.id.in_(ids))).all()
    return {int(r.id): (_row(r).label, r.status) for r in rows}


def complete_ids(conn: Connection) -> set[int]:
    rows = conn.execute(select(schema.versions.c.id).where(schema.versions.c.state == "complete"))
    return {int(r[0]) for r in rows}


def model_id(conn: Connection, namespace: str, name: str) -> int | None:
    m = schema.models.c
    return conn.execute(
        select(m.id).where(and_(m.namespace == namespace, m.name == name))
    ).scalar_one_or_none()


# -- reports and files -----------------------------------------------------------------
def report(conn: Connection, version_id: int, kind: str) -> Any:
    """A stored report's JSON body (``None`` if the version has none of that kind)."""
    r = schema.reports.c
    row = conn.execute(
        select(r.body).where(and_(r.version_id == version_id, r.kind == kind))
    ).first()
    return json.loads(row[0]) if row else None


def put_report(conn: Connection, version_id: int, kind: str, body: Any) -> None:
    """Replace a version's report of ``kind`` (steps are repeatable)."""
    r = schema.reports.c
    conn.execute(delete(schema.reports).where(and_(r.version_id == version_id, r.kind == kind)))
    conn.execute(
        schema.reports.insert().values(
            version_id=version_id,
            kind=kind,
            body=json.dumps(body, sort_keys=True),
            created_at=now(),
        )
    )


def files(conn: Connection, version_id: int) -> list[FileRow]:
    f = schema.files.c
    rows = conn.execute(
        select(f.path, f.size, f.sha256).where(f.version_id == version_id).order_by(f.path)
    )
    return [FileRow(r.path, int(r.size), r.sha256) for r in rows]


def file_count(conn: Connection, version_id: int) -> int:
    f = schema.files.c
    q = select(func.count()).select_from(schema.files).where(f.version_id == version_id)
    return int(conn.execute(q).scalar_one())


def attestation(conn: Connection, version_id: int) -> Any:
    """The attestation row (bundle JSON, key id, log index), or ``None``."""
    a = schema.attestations.c
    return conn.execute(select(schema.attestations).where(a.version_id == version_id)).first()


# -- decisions and moderation ------------------------------------------------------------
def decision_rows(conn: Connection, version_id: int) -> list[Any]:
    d = schema.decisions.c
    return list(
        conn.execute(select(schema.decisions).where(d.version_id == version_id).order_by(d.id))
    )


def latest_decision_index(conn: Connection, version_id: int) -> int | None:
    d = schema.decisions.c
    q = select(d.log_index).where(d.version_id == version_id).order_by(d.id.desc()).limit(1)
    idx = conn.execute(q).scalar_one_or_none()
    return None if idx is None else int(idx)


def moderations(
    conn: Connection, version_id: int, *, action: Moderation | None = None
) -> list[ModerationRow]:
    """Takedowns, reinstatements and releases of a version, oldest first."""
    t = schema.takedowns.c
    q = select(schema.takedowns).where(t.version_id == version_id)
    if action is not None:
        q = q.where(t.action == action)
    return [
        ModerationRow(r.action, r.actor, r.reason, int(r.log_index), r.created_at)
        for r in conn.execute(q.order_by(t.id))
    ]


def latest_logged_index(conn: Connection, version_id: int) -> int | None:
    """The log index of the version's latest logged event: a decision, or a takedown or
    reinstatement (a release is logged as the decision it leads to)."""
    t = schema.takedowns.c
    moderation = conn.execute(
        select(func.max(t.log_index)).where(
            and_(t.version_id == version_id, t.action != Moderation.RELEASE)
        )
    ).scalar_one_or_none()
    found = [i for i in (latest_decision_index(conn, version_id), moderation) if i is not None]
    return max(int(i) for i in found) if found else None


# -- lineage -----------------------------------------------------------------------------
def edge_rows(conn: Connection, version_id: int, *, parents: bool) -> list[Any]:
    """Edges to the version's parents (or children), each with ``other`` (the id)."""
    e = schema.edges.c
    mine, other = (e.child_id, e.parent_id) if parents else (e.parent_id, e.child_id)
    rows = conn.execute(select(schema.edges, other.label("other")).where(mine == version_id))
    return sorted(rows, key=lambda r: (r.other, r.kind))


def children_of(conn: Connection, parent_ids: set[int]) -> list[Any]:
    """Edges (parent_id, child_id, kind, relation) below any of ``parent_ids``."""
    e = schema.edges.c
    return list(
        conn.execute(
            select(e.parent_id, e.child_id, e.kind, e.relation)
            .where(e.parent_id.in_(parent_ids))
            .order_by(e.child_id, e.kind)
        )
    )


def parents_of(conn: Connection, child_ids: set[int]) -> list[Any]:
    """Edges (parent_id, child_id, kind, relation) above any of ``child_ids``."""
    e = schema.edges.c
    return list(
        conn.execute(
            select(e.parent_id, e.child_id, e.kind, e.relation)
            .where(e.child_id.in_(child_ids))
            .order_by(e.parent_id, e.kind)
        )
    )


def parent_relations(conn: Connection, ids: set[int]) -> dict[int, set[str]]:
    """Each version's relations to its parents (declared and detected alike)."""
    e = schema.edges.c
    out: dict[int, set[str]] = {}
    for r in conn.execute(select(e.child_id, e.relation).where(e.child_id.in_(ids))):
        out.setdefault(int(r.child_id), set()).add(r.relation)
    return out


def licences(conn: Connection, ids: set[int]) -> dict[int, str]:
    """Each version's declared licence as its policy facts recorded it (the catalogue id
    where the card's value resolved to one); versions without one are left out."""
    rp = schema.reports.c
    out: dict[int, str] = {}
    rows = conn.execute(
        select(rp.version_id, rp.body).where(rp.version_id.in_(ids), rp.kind == "facts")
    )
    for r in rows:
        facts = json.loads(r.body)
        lic = facts.get("licence") or {}
        value = lic.get("declared_id") or lic.get("declared")
        if isinstance(value, str) and value:
            out[int(r.version_id)] = value
    return out


def descendants(conn: Connection, version_id: int) -> list[int]:
    """Every version below ``version_id`` along any edge, generation by generation."""
    out: list[int] = []
    frontier = [version_id]
    while frontier:
        rows = conn.execute(
            select(schema.edges.c.child_id).where(schema.edges.c.parent_id.in_(frontier))
        ).all()
        frontier = [int(r[0]) for r in rows if int(r[0]) not in out and int(r[0]) != version_id]
        out += frontier
    return out


# -- watermarks, namespaces, organisations ----------------------------------------------
def watermark_records(
    conn: Connection, *, version_id: int | None = None, key_ids: list[str] | None = None
) -> list[str]:
    """Stored ``WatermarkDeployment`` JSON records, by version or by key ids."""
    w = schema.watermarks.c
    q = select(w.record).order_by(w.created_at)
    if version_id is not None:
        q = q.where(w.version_id == version_id)
    if key_ids is not None:
        q = q.where(w.key_id.in_(key_ids))
    return [str(r[0]) for r in conn.execute(q)]


def watermark_owner(conn: Connection, key_id: str) -> int | None:
    w = schema.watermarks.c
    return conn.execute(select(w.version_id).where(w.key_id == key_id)).scalar_one_or_none()


def namespaces(conn: Connection) -> dict[str, str]:
    """Namespace → owning organisation."""
    return {r.namespace: r.org for r in conn.execute(select(schema.namespaces))}


def org_members(conn: Connection, org: str) -> list[str]:
    m = schema.memberships.c
    return list(conn.execute(select(m.user).where(m.org == org).order_by(m.user)).scalars())


def job_version(conn: Connection, job_id: int) -> int:
    j = schema.jobs.c
    return int(conn.execute(select(j.version_id).where(j.id == job_id)).scalar_one())


def job(conn: Connection, job_id: int) -> Any:
    return conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).first()


# -- the download log ----------------------------------------------------------------------
def downloads(
    conn: Connection, *, limit: int, before: int | None = None, user: str | None = None
) -> list[Any]:
    """Download-log rows, newest first, each with its version's label parts."""
    d, m, v = schema.downloads.c, schema.models.c, schema.versions.c
    q = (
        select(d.id, d.user, d.path, d.client, d.outcome, d.created_at, m.namespace, m.name,
               v.number)
        .join(schema.versions, v.id == d.version_id)
        .join(schema.models, m.id == v.model_id)
        .order_by(d.id.desc())
        .limit(limit)
    )  # fmt: skip
    if before is not None:
        q = q.where(d.id < before)
    if user is not None:
        q = q.where(d.user == user)
    return list(conn.execute(q))


def download_counts(conn: Connection, ids: set[int]) -> dict[int, int]:
    """Files served per version from the download log (refused requests not counted);
    versions never downloaded are left out."""
    d = schema.downloads.c
    q = (
        select(d.version_id, func.count())
        .where(d.version_id.in_(ids), d.outcome == "served")
        .group_by(d.version_id)
    )
    return {int(vid): int(n) for vid, n in conn.execute(q)}


def version_weights_digest(conn: Connection, version_id: int) -> str | None:
    """The registered weights digest of a version (identity's tensor Merkle root)."""
    v = schema.versions.c
    return conn.execute(select(v.weights_digest).where(v.id == version_id)).scalar()


# -- recipient-traceable copies (registry/recipients.py) ---------------------------------------
@dataclass(frozen=True)
class CopyRow:
    """One changed file of one recipient's copy."""

    user: str
    path: str
    key_id: str
    original_sha256: str
    sha256: str
    size: int


def recipient_marking(conn: Connection, version_id: int) -> str | None:
    """The version's ``RecipientMarking`` JSON, if it is served as recipient copies."""
    m = schema.recipient_marks.c
    return conn.execute(select(m.record).where(m.version_id == version_id)).scalar()


def recipient_copies(
    conn: Connection, version_id: int, *, user: str | None = None
) -> list[CopyRow]:
    """The copies made of a version (one row per changed file and recipient)."""
    c = schema.recipient_copies.c
    q = select(c.user, c.path, c.key_id, c.original_sha256, c.sha256, c.size).where(
        c.version_id == version_id
    )
    if user is not None:
        q = q.where(c.user == user)
    return [
        CopyRow(r.user, r.path, r.key_id, r.original_sha256, r.sha256, int(r.size))
        for r in conn.execute(q.order_by(c.user, c.path))
    ]
