"""Recall notices: who must be told when a version is withdrawn.

The download log knows every account and API token that fetched a version. The recall
list of a version is every *served* download of it or of any of its descendants (the
copies and derivatives a takedown propagates to), with what and when. Each account sees
its own notices (versions it downloaded that are now withdrawn or quarantined);
staff see a version's whole list. Webhooks (:mod:`weightwatch.registry.webhooks`) carry
the same facts to the endpoints accounts and organisations registered.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, and_, select

from weightwatch.registry import queries, schema
from weightwatch.registry.states import Moderation, Status
from weightwatch.reports import Record, Report

#: Statuses a downloader must be told about: the files they hold are no longer offered.
RECALLED = frozenset({Status.TAKEN_DOWN, Status.QUARANTINED, Status.BLOCKED})


class RecallEntry(Record):
    """One served download: by whom (account, API token id), of what, when."""

    user: str | None  # None: anonymous
    token: str | None  # the API token's id (start of its SHA-256), None for the browser
    version: str  # namespace/name@number
    path: str
    client: str | None
    downloaded_at: str


class RecallReport(Report):
    """Everyone who downloaded a version or any of its descendants."""

    model: str
    status: str
    reason: str | None  # the latest takedown's reason, if it was taken down
    versions: list[str]  # the version and its descendants, with their status
    accounts: list[str]
    tokens: list[str]
    anonymous: int  # downloads nobody can be told about
    entries: list[RecallEntry]  # oldest first


class Notice(Record):
    """What one account is told: a version it downloaded is now withdrawn."""

    version: str
    status: str
    reason: str  # the takedown's reason, or the current decision's first reason
    downloaded_at: str  # the account's latest download of it


def _served(conn: Connection, ids: list[int]) -> list[RecallEntry]:
    d = schema.downloads.c
    rows = conn.execute(
        select(d.user, d.token, d.version_id, d.path, d.client, d.created_at)
        .where(and_(d.version_id.in_(ids), d.outcome == "served"))
        .order_by(d.id)
    ).all()
    labels = queries.labels(conn, set(ids))
    return [
        RecallEntry(
            user=r.user,
            token=r.token,
            version=labels[int(r.version_id)][0],
            path=r.path,
            client=r.client,
            downloaded_at=r.created_at,
        )
        for r in rows
    ]


def takedown_reason(conn: Connection, version_id: int) -> str | None:
    rows = queries.moderations(conn, version_id, action=Moderation.TAKEDOWN)
    return rows[-1].reason if rows else None


def recall(conn: Connection, version_id: int) -> RecallReport:
    """The recall list of a version: its served downloads and its descendants'."""
    ids = [version_id, *queries.descendants(conn, version_id)]
    entries = _served(conn, ids)
    labels = queries.labels(conn, set(ids))
    return RecallReport(
        model=labels[version_id][0],
        status=labels[version_id][1],
        reason=takedown_reason(conn, version_id),
        versions=[f"{labels[i][0]} ({labels[i][1]})" for i in ids],
        accounts=sorted({e.user for e in entries if e.user}),
        tokens=sorted({e.token for e in entries if e.token}),
        anonymous=sum(1 for e in entries if e.user is None),
        entries=entries,
    )


def notices_for(conn: Connection, user: str) -> list[Notice]:
    """The versions ``user`` downloaded (served) that are now taken down, blocked or
    quarantined — each once, newest download first. A user is only ever told about
    versions it was served, so it learns nothing about a model it could not see."""
    d, v = schema.downloads.c, schema.versions.c
    rows = conn.execute(
        select(d.version_id, d.created_at, v.status)
        .join(schema.versions, v.id == d.version_id)
        .where(and_(d.user == user, d.outcome == "served", v.status.in_(sorted(RECALLED))))
        .order_by(d.id.desc())
    ).all()
    seen: dict[int, Notice] = {}
    for r in rows:
        vid = int(r.version_id)
        if vid in seen:
            continue
        seen[vid] = Notice(
            version=queries.version_label(conn, vid),
            status=r.status,
            reason=takedown_reason(conn, vid) or _decision_reason(conn, vid),
            downloaded_at=r.created_at,
        )
    return list(seen.values())


def _decision_reason(conn: Connection, version_id: int) -> str:
    rows = queries.decision_rows(conn, version_id)
    reasons = json.loads(rows[-1].reasons) if rows else []
    return str(reasons[0]) if reasons else "withdrawn"
