"""Webhooks: signed JSON events for takedowns, reinstatements and access decisions.

An account (or an organisation, by one of its members with publisher or staff rights)
registers an HTTP(S) URL and gets a per-hook secret, shown once. Events are written to
an outbox (``webhook_deliveries``) in the registry's database and sent by
:func:`deliver_due` — inline after the action on the CLI, by a background loop in the
server — with retries and backoff; every attempt lands in ``webhook_attempts``.

Each request carries ``X-Weightwatch-Event``, ``X-Weightwatch-Delivery`` (the event id),
``X-Weightwatch-Timestamp`` (unix seconds) and ``X-Weightwatch-Signature:
sha256=<hex>``: HMAC-SHA256 with the hook's secret over ``"<timestamp>." + body``
(:func:`sign`, checked by :func:`verify`), so a receiver can reject forgeries and
replays.

Who is told, and the hooks themselves, are :mod:`weightwatch.registry.notify`'s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, and_, select, update

from weightwatch.registry import schema
from weightwatch.registry.store import Store, now
from weightwatch.reports import Record

EVENTS = ("model.takedown", "model.reinstate", "access.decision")
BACKOFF = (1.0, 5.0, 30.0, 120.0, 600.0)  # seconds before attempts 2, 3, …; then failed
TIMEOUT = 10.0


class Attempt(Record):
    attempt: int
    status_code: int | None
    error: str | None
    at: str


class Delivery(Record):
    id: str
    hook_id: int
    event: str
    state: str  # pending | delivered | failed
    attempts: list[Attempt]
    body: dict[str, Any]
    created_at: str


# -- signing ---------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, body: bytes, *, signature: str, timestamp: str, tolerance: float = 300.0
) -> bool:
    """Whether a received event is authentic and fresh (for receivers)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


# -- events ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipient:
    kind: str  # user | org
    name: str


def _hooks_for(conn: Connection, recipient: Recipient) -> list[Any]:
    w = schema.webhooks.c
    return list(
        conn.execute(
            select(w.id, w.secret).where(
                and_(
                    w.owner_kind == recipient.kind,
                    w.owner == recipient.name,
                    w.deleted_at.is_(None),
                )
            )
        ).all()
    )


def enqueue(conn: Connection, recipient: Recipient, event: str, doc: dict[str, Any]) -> int:
    n = 0
    for hook in _hooks_for(conn, recipient):
        event_id = str(uuid.uuid4())
        body = {"id": event_id, "type": event, "created_at": now(), **doc}
        body["recipient"] = {"kind": recipient.kind, "name": recipient.name}
        conn.execute(
            schema.webhook_deliveries.insert().values(
                id=event_id,
                hook_id=hook.id,
                event=event,
                body=json.dumps(body, sort_keys=True, separators=(",", ":")),
                state="pending",
                attempts=0,
                next_at=time.time(),
                created_at=now(),
            )
        )
        n += 1
    return n


def access_event(store: Store, user: str, model: str, *, state: str, reason: str | None) -> int:
    """Queue an ``access.decision`` event for the account whose request was decided."""
    with store.write.begin() as conn:
        return enqueue(
            conn,
            Recipient("user", user),
            "access.decision",
            {"model": model, "state": state, "reason": reason},
        )


# -- delivery --------------------------------------------------------------------------
Post = Callable[[str, bytes, dict[str, str]], int]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
        return client.post(url, content=body, headers=headers).status_code


def deliver_due(
    store: Store,
    *,
    backoff: Sequence[float] = BACKOFF,
    post: Post = _post,
    clock: Callable[[], float] = time.time,
) -> int:
    """Send every delivery that is due once; schedule retries (``backoff[i]`` seconds
    after attempt ``i + 1`` fails) until the attempts run out. Returns how many it sent."""
    d = schema.webhook_deliveries.c
    with store.engine.connect() as conn:
        due = conn.execute(
            select(schema.webhook_deliveries, schema.webhooks.c.url, schema.webhooks.c.secret)
            .join(schema.webhooks, schema.webhooks.c.id == d.hook_id)
            .where(and_(d.state == "pending", d.next_at <= clock()))
            .order_by(d.next_at)
            .limit(100)
        ).all()
    for r in due:
        body = r.body.encode()
        ts = int(clock())
        headers = {
            "content-type": "application/json",
            "user-agent": "weightwatch-webhooks/1",
            "x-weightwatch-event": r.event,
            "x-weightwatch-delivery": r.id,
            "x-weightwatch-timestamp": str(ts),
            "x-weightwatch-signature": sign(r.secret, ts, body),
        }
        code: int | None = None
        error: str | None = None
        try:
            code = post(r.url, body, headers)
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = int(r.attempts) + 1
        if error is None:
            state, next_at = "delivered", float(r.next_at)
        elif attempt > len(backoff):
            state, next_at = "failed", float(r.next_at)
        else:
            state, next_at = "pending", clock() + backoff[attempt - 1]
        with store.write.begin() as conn:
            conn.execute(
                schema.webhook_attempts.insert().values(
                    delivery_id=r.id,
                    attempt=attempt,
                    status_code=code,
                    error=error,
                    created_at=now(),
                )
            )
            conn.execute(
                update(schema.webhook_deliveries)
                .where(d.id == r.id)
                .values(state=state, attempts=attempt, next_at=next_at)
            )
    return len(due)


def pending(store: Store) -> float | None:
    """When the next pending delivery is due (unix time), or None if none is pending."""
    d = schema.webhook_deliveries.c
    with store.engine.connect() as conn:
        value = conn.execute(
            select(d.next_at).where(d.state == "pending").order_by(d.next_at).limit(1)
        ).scalar()
    return float(value) if value is not None else None


def deliver_all(store: Store, *, backoff: Sequence[float] = BACKOFF, max_wait: float = 60.0) -> int:
    """Deliver until nothing is pending, waiting for retries, at most ``max_wait``
    seconds (what is still pending then stays queued). Returns attempts made."""
    deadline = time.time() + max_wait
    sent = 0
    while True:
        sent += deliver_due(store, backoff=backoff)
        nxt = pending(store)
        if nxt is None or nxt > deadline:
            return sent
        time.sleep(max(0.0, nxt - time.time()))
