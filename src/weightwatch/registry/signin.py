"""The sign-in throttle: how many password guesses a client may make, and how fast.

Guessing is limited per (account, client) and per client, never per account alone, so
nobody can lock the real owner out from elsewhere (the owner signs in from another
client as usual), and spraying one password across many accounts from one client is
limited too. Within the window, each (account, client) pair gets ``free`` failures at
full speed, then waits ``backoff`` seconds, doubled after every further failure, up to
``per_account_client`` failures in all; a client gets ``per_client`` failures over all
accounts. A success clears its pair's failures.

Every attempt is reserved (a ``pending`` row) in one serialised transaction before the
password is checked: concurrent guesses are counted before any of them is tried, so
parallel requests never get more guesses than sequential ones. A reservation that never
finishes (a crash mid-check) counts as a failure.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, select, text, update

from weightwatch.errors import TooManyAttempts
from weightwatch.registry import schema
from weightwatch.registry.store import Store

PENDING, FAILED, OK, REFUSED, CLEARED = "pending", "failed", "ok", "refused", "cleared"
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class SignInPolicy:
    """Limits on failed sign-ins within a sliding ``window``."""

    window: dt.timedelta = dt.timedelta(minutes=15)
    per_account_client: int = 10  # failed guesses at one account from one client
    per_client: int = 50  # failed sign-ins from one client, all accounts together
    free: int = 5  # failures (per account and client) before the backoff starts
    backoff: float = 1.0  # seconds after failure ``free``, doubled after each next one


DEFAULT_POLICY = SignInPolicy()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _wait(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def reserve(
    store: Store, user: str, client: str | None, *, policy: SignInPolicy = DEFAULT_POLICY
) -> int:
    """Reserve one attempt for ``user`` from ``client`` (an id to ``finish``), or raise
    ``TooManyAttempts`` saying how long to wait. Serialised per client (SQLite's write
    lock; a transaction-scoped advisory lock on PostgreSQL)."""
    client = (client or UNKNOWN_CLIENT)[:100]
    user = user[:200]
    t = schema.login_attempts
    now = _now()
    since = (now - policy.window).isoformat()
    with store.write.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"ww-signin:{client}"}
            )
        conn.execute(t.delete().where(and_(t.c.client == client, t.c.created_at < since)))
        rows = conn.execute(
            select(t.c.user, t.c.created_at).where(
                and_(
                    t.c.client == client,
                    t.c.created_at >= since,
                    t.c.outcome.in_((PENDING, FAILED)),
                )
            )
        ).all()
        pair = sorted(r.created_at for r in rows if r.user == user)
        until: dt.datetime | None = None
        if len(rows) >= policy.per_client:
            oldest = min(r.created_at for r in rows)
            until = dt.datetime.fromisoformat(oldest) + policy.window
            why = "too many failed sign-ins from this address"
        elif len(pair) >= policy.per_account_client:
            until = dt.datetime.fromisoformat(pair[0]) + policy.window
            why = "too many failed sign-ins for this user"
        elif len(pair) >= policy.free:
            delay = min(
                policy.backoff * 2 ** (len(pair) - policy.free), policy.window.total_seconds()
            )
            until = dt.datetime.fromisoformat(pair[-1]) + dt.timedelta(seconds=delay)
            why = "too many failed sign-ins for this user"
            if until <= now:
                until = None
        outcome = PENDING if until is None else REFUSED
        attempt = conn.execute(
            insert(t)
            .values(user=user, client=client, outcome=outcome, created_at=now.isoformat())
            .returning(t.c.id)
        ).scalar_one()
    if until is not None:
        wait = _wait(until, now)
        raise TooManyAttempts(f"{why}; try again in {spell_wait(wait)}", retry_after=wait)
    return int(attempt)


def finish(store: Store, attempt: int, *, ok: bool) -> None:
    """Record how a reserved attempt ended; a success clears its pair's failures."""
    t = schema.login_attempts
    with store.write.begin() as conn:
        row = conn.execute(select(t.c.user, t.c.client).where(t.c.id == attempt)).one()
        if ok:
            conn.execute(
                update(t)
                .where(and_(t.c.user == row.user, t.c.client == row.client, t.c.outcome == FAILED))
                .values(outcome=CLEARED)
            )
        conn.execute(update(t).where(t.c.id == attempt).values(outcome=OK if ok else FAILED))


def prune(store: Store, *, policy: SignInPolicy = DEFAULT_POLICY) -> int:
    """Forget attempts older than the window (they no longer count); how many."""
    t = schema.login_attempts
    since = (_now() - policy.window).isoformat()
    with store.write.begin() as conn:
        return int(conn.execute(t.delete().where(t.c.created_at < since)).rowcount or 0)


def failures(store: Store, client: str | None, *, user: str | None = None) -> int:
    """Failed (or unfinished) attempts from ``client`` (at ``user``) still on record."""
    t = schema.login_attempts
    q = select(func.count()).where(
        and_(t.c.client == (client or UNKNOWN_CLIENT), t.c.outcome.in_((PENDING, FAILED)))
    )
    if user is not None:
        q = q.where(t.c.user == user)
    with store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def spell_wait(seconds: int) -> str:
    """``seconds`` as a person reads a wait: "40 seconds", "15 minutes"."""
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
