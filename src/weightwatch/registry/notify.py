"""Who is told about a withdrawal, and the webhooks accounts and organisations keep.

No recipient learns about a model it could not see: an account is told about the
versions it was served (the download log: it saw them) and, by name, about the withdrawn
version only when :func:`~weightwatch.registry.visibility.visibility` lets it see that
record; an organisation about the affected versions in the namespaces it owns.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, or_, select, update

from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry import queries, schema
from weightwatch.registry.access import Principal
from weightwatch.registry.recall import RecallEntry, recall
from weightwatch.registry.states import STAFF, Role
from weightwatch.registry.store import Store, now
from weightwatch.registry.visibility import visibility
from weightwatch.registry.webhooks import Attempt, Delivery, Recipient, enqueue
from weightwatch.reports import Record

MAX_HOOKS = 20  # per owner


class Hook(Record):
    id: int
    owner_kind: str  # user | org
    owner: str
    url: str
    created_by: str
    created_at: str


# -- hooks -----------------------------------------------------------------------------
def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"a webhook URL must be http:// or https:// with a host, not {url!r}")
    if parts.username or parts.password:
        raise UsageError("a webhook URL must not carry credentials")
    if len(url) > 2000:
        raise UsageError("a webhook URL must be at most 2000 characters")
    return url


def add_hook(store: Store, who: Principal, url: str, *, org: str | None = None) -> tuple[Hook, str]:
    """Register ``url`` for ``who`` (or for ``org``, which ``who`` must belong to as a
    publisher, or be staff); returns the hook and its secret (shown only now)."""
    _check_url(url)
    kind, owner = ("org", org) if org else ("user", who.user)
    if org and not (who.staff or (org in who.orgs and who.role in (Role.PUBLISHER, *STAFF))):
        raise AccessDenied(f"only a publisher of {org} or staff may add its webhooks")
    secret = secrets.token_hex(32)
    w = schema.webhooks.c
    with store.write.begin() as conn:
        count = len(
            conn.execute(
                select(w.id).where(
                    and_(w.owner_kind == kind, w.owner == owner, w.deleted_at.is_(None))
                )
            ).all()
        )
        if count >= MAX_HOOKS:
            raise UsageError(f"{owner} already has {MAX_HOOKS} webhooks: delete one first")
        stamp = now()
        hid = conn.execute(
            schema.webhooks.insert().values(
                owner_kind=kind,
                owner=owner,
                url=url,
                secret=secret,
                created_by=who.user,
                created_at=stamp,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return Hook(
        id=int(hid), owner_kind=kind, owner=owner, url=url, created_by=who.user, created_at=stamp
    ), secret


def _mine(who: Principal) -> Any:
    w = schema.webhooks.c
    if who.staff:
        return w.deleted_at.is_(None)
    owners = [and_(w.owner_kind == "user", w.owner == who.user)]
    owners += [and_(w.owner_kind == "org", w.owner == o) for o in who.orgs]
    return and_(w.deleted_at.is_(None), or_(*owners))


def hooks_of(store: Store, who: Principal) -> list[Hook]:
    """The hooks ``who`` may see: its own and its organisations' (staff: all)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.webhooks).where(_mine(who)).order_by(schema.webhooks.c.id)
        ).all()
    return [_hook(r) for r in rows]


def _hook(r: Any) -> Hook:
    return Hook(
        id=r.id,
        owner_kind=r.owner_kind,
        owner=r.owner,
        url=r.url,
        created_by=r.created_by,
        created_at=r.created_at,
    )


def delete_hook(store: Store, who: Principal, hook_id: int) -> None:
    if hook_id not in {h.id for h in hooks_of(store, who)}:
        raise AccessDenied(f"no webhook {hook_id} of yours")
    with store.write.begin() as conn:
        conn.execute(
            update(schema.webhooks).where(schema.webhooks.c.id == hook_id).values(deleted_at=now())
        )


def deliveries(store: Store, who: Principal, hook_id: int) -> list[Delivery]:
    """The delivery log of one of ``who``'s hooks, with every attempt, oldest first."""
    if hook_id not in {h.id for h in hooks_of(store, who)}:
        raise AccessDenied(f"no webhook {hook_id} of yours")
    d, a = schema.webhook_deliveries.c, schema.webhook_attempts.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.webhook_deliveries).where(d.hook_id == hook_id).order_by(d.created_at)
        ).all()
        out = []
        for r in rows:
            tries = conn.execute(
                select(schema.webhook_attempts).where(a.delivery_id == r.id).order_by(a.attempt)
            ).all()
            out.append(
                Delivery(
                    id=r.id,
                    hook_id=r.hook_id,
                    event=r.event,
                    state=r.state,
                    attempts=[
                        Attempt(
                            attempt=t.attempt,
                            status_code=t.status_code,
                            error=t.error,
                            at=t.created_at,
                        )
                        for t in tries
                    ],
                    body=json.loads(r.body),
                    created_at=r.created_at,
                )
            )
    return out


# -- recipients ------------------------------------------------------------------------
def principal_of(conn: Connection, recipient: Recipient) -> Principal:
    """The principal visibility judges a recipient as (an organisation: as a member)."""
    if recipient.kind == "org":
        return Principal(f"org:{recipient.name}", Role.USER, (recipient.name,))
    u = schema.users.c
    row = conn.execute(select(u.role, u.country).where(u.name == recipient.name)).first()
    orgs = conn.execute(
        select(schema.memberships.c.org).where(schema.memberships.c.user == recipient.name)
    ).scalars()
    return Principal(
        recipient.name, row.role if row else Role.USER, tuple(orgs), row.country if row else None
    )


def moderation_events(store: Store, version_id: int, *, event: str, reason: str, actor: str) -> int:
    """Queue one event per hook of every recipient of a takedown or reinstatement of
    ``version_id``: accounts that were served it or a descendant, organisations owning
    an affected namespace. Returns how many deliveries were queued."""
    with store.engine.connect() as conn:
        report = recall(conn, version_id)
        root = queries.version_row(conn, version_id)
        owners = queries.namespaces(conn)
        by_user: dict[str, list[RecallEntry]] = {}
        for e in report.entries:
            if e.user:
                by_user.setdefault(e.user, []).append(e)
        by_org: dict[str, list[str]] = {}
        for label in (v.rsplit(" (", 1)[0] for v in report.versions):
            org = owners.get(label.split("/", 1)[0])
            if org:
                by_org.setdefault(org, []).append(label)
        recipients = [(Recipient("user", u), _entries(es)) for u, es in sorted(by_user.items())]
        recipients += [
            (Recipient("org", o), {"versions": labels}) for o, labels in sorted(by_org.items())
        ]
        judged = [(r, doc, principal_of(conn, r)) for r, doc in recipients]
    bodies = []
    for recipient, doc, who in judged:
        named = visibility(store, who, root).exists
        bodies.append(
            (
                recipient,
                {
                    "model": root.label if named else None,
                    "status": root.status if named else None,
                    "reason": reason if named else None,
                    "actor": actor if named else None,
                    **doc,
                },
            )
        )
    with store.write.begin() as conn:
        return sum(enqueue(conn, r, event, body) for r, body in bodies)


def _entries(entries: Sequence[RecallEntry]) -> dict[str, Any]:
    return {
        "downloads": [
            {"version": e.version, "path": e.path, "token": e.token, "at": e.downloaded_at}
            for e in entries
        ]
    }
