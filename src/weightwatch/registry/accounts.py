"""Accounts: users with roles, organisations that own namespaces, browser sessions, and
the append-only log of actions (who did what, to what, from where).

Passwords are hashed with scrypt (stdlib, memory-hard); session cookies, like API
tokens, are random secrets of which only the SHA-256 is stored, so a copy of the
database lets nobody log in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from weightwatch.errors import AccessDenied, TooManyAttempts, UsageError
from weightwatch.registry import schema, signin
from weightwatch.registry.signin import DEFAULT_POLICY, SignInPolicy
from weightwatch.registry.states import Role, values
from weightwatch.registry.store import Store, now

ROLES = values(Role)
NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")  # as in registry.store.NAME
SESSION_HOURS = 12
MAX_FAILURES = DEFAULT_POLICY.per_account_client  # failed guesses per account and client
FAILURE_WINDOW = DEFAULT_POLICY.window
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USER = "abcdefghijklmnopqrstuvwxyz0123456789-_."


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 << 20, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


@functools.cache
def _dummy() -> str:
    """A hash to compare against for unknown users (made once, on first use)."""
    return hash_password(secrets.token_urlsafe(16))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 << 20
    )
    return hmac.compare_digest(got.hex(), digest)


def _check_user_name(name: str) -> None:
    if not name or len(name) > 100 or any(c not in _USER for c in name):
        raise UsageError(
            f"user name {name!r} must be 1-100 characters of lower-case letters, digits, "
            "'-', '_' and '.'"
        )


MAX_REASON = 2000  # characters of a decision, takedown or release reason


def check_reason(reason: str | None) -> None:
    """``UsageError`` for a reason longer than ``MAX_REASON`` (it is stored and shown)."""
    if reason is not None and len(reason) > MAX_REASON:
        raise UsageError(f"a reason may have at most {MAX_REASON} characters, not {len(reason)}")


def check_org_name(org: str) -> None:
    """``UsageError`` unless ``org`` is a well-formed organisation name."""
    if not org or len(org) > 100 or any(c not in _USER for c in org):
        raise UsageError(
            f"organisation name {org!r} must be 1-100 characters of lower-case letters, "
            "digits, '-', '_' and '.'"
        )


def org_exists(store: Store, org: str) -> bool:
    with store.engine.connect() as conn:
        return (
            conn.execute(select(schema.orgs.c.name).where(schema.orgs.c.name == org)).first()
            is not None
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    email: str | None
    country: str | None
    orgs: tuple[str, ...]
    disabled: bool


def create_user(
    store: Store,
    name: str,
    password: str,
    *,
    role: str = "user",
    email: str | None = None,
    country: str | None = None,
    orgs: tuple[str, ...] = (),
) -> User:
    _check_user_name(name)
    _check_role(role)
    if len(password) < 8:
        raise UsageError("a password needs at least 8 characters")
    if country is not None:
        from weightwatch.registry.gates import country_code

        country = country_code(country)
    with store.write.begin() as conn:
        if conn.execute(select(schema.users.c.name).where(schema.users.c.name == name)).first():
            raise UsageError(f"user {name!r} already exists")
        conn.execute(
            insert(schema.users).values(
                name=name,
                password_hash=hash_password(password),
                role=role,
                email=email,
                country=country,
                created_at=now(),
            )
        )
        for org in orgs:
            _ensure_org(conn, org)
            conn.execute(insert(schema.memberships).values(org=org, user=name))
    return get_user(store, name)


def get_user(store: Store, name: str) -> User:
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.users).where(schema.users.c.name == name)).first()
        if row is None:
            raise UsageError(f"no user {name!r}")
        orgs = conn.execute(
            select(schema.memberships.c.org)
            .where(schema.memberships.c.user == name)
            .order_by(schema.memberships.c.org)
        ).scalars()
        return User(
            row.name, row.role, row.email, row.country, tuple(orgs), row.disabled_at is not None
        )


def users(store: Store) -> list[User]:
    with store.engine.connect() as conn:
        names = conn.execute(select(schema.users.c.name).order_by(schema.users.c.name)).scalars()
        return [get_user(store, n) for n in list(names)]


def set_role(store: Store, name: str, role: str) -> None:
    _check_role(role)
    with store.write.begin() as conn:
        if not conn.execute(
            update(schema.users).where(schema.users.c.name == name).values(role=role)
        ).rowcount:
            raise UsageError(f"no user {name!r}")


def _ensure_org(conn: Any, org: str) -> None:
    check_org_name(org)
    if conn.execute(select(schema.orgs.c.name).where(schema.orgs.c.name == org)).first() is None:
        conn.execute(insert(schema.orgs).values(name=org, created_at=now()))


def add_member(store: Store, org: str, user: str) -> None:
    get_user(store, user)
    with store.write.begin() as conn:
        _ensure_org(conn, org)
        key = and_(schema.memberships.c.org == org, schema.memberships.c.user == user)
        if conn.execute(select(schema.memberships).where(key)).first() is None:
            conn.execute(insert(schema.memberships).values(org=org, user=user))


def set_namespace_owner(store: Store, namespace: str, org: str) -> None:
    """Give ``namespace`` to the existing organisation ``org``: its members may publish
    there and manage requests. ``UsageError`` for a malformed namespace or an unknown
    organisation (a typo would otherwise hand the namespace to nobody)."""
    if not NAMESPACE.fullmatch(namespace):
        raise UsageError(
            f"namespace {namespace!r} must be 1-100 characters of lower-case letters, digits, "
            "'.', '_' and '-', starting with a letter or digit"
        )
    check_org_name(org)
    if not org_exists(store, org):
        raise UsageError(
            f"no organisation {org!r}: add a member first (`weightwatch registry user NAME "
            f"--org {org}`)"
        )
    with store.write.begin() as conn:
        conn.execute(delete(schema.namespaces).where(schema.namespaces.c.namespace == namespace))
        conn.execute(insert(schema.namespaces).values(namespace=namespace, org=org))


def namespace_owner(store: Store, namespace: str) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(
            select(schema.namespaces.c.org).where(schema.namespaces.c.namespace == namespace)
        ).scalar_one_or_none()


# -- sessions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    user: str
    csrf: str


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def login(
    store: Store,
    name: str,
    password: str,
    *,
    client: str | None = None,
    policy: SignInPolicy = DEFAULT_POLICY,
) -> str:
    """A new session cookie value for valid credentials; AccessDenied otherwise (the
    message does not say whether the user exists). Records the attempt, and refuses
    guessing past the ``policy`` (per account and client, and per client; see
    ``registry.signin``), whatever the password, with ``TooManyAttempts``."""
    try:
        attempt = signin.reserve(store, name, client, policy=policy)
    except TooManyAttempts:
        record(store, None, "login.throttled", name[:200], client=client)
        raise
    ok = False
    try:
        with store.engine.connect() as conn:
            row = conn.execute(select(schema.users).where(schema.users.c.name == name)).first()
        # hash anyway for unknown users, so response time does not reveal who exists
        stored = row.password_hash if row is not None else _dummy()
        ok = check_password(password, stored) and row is not None and row.disabled_at is None
    finally:
        signin.finish(store, attempt, ok=ok)
    if not ok:
        record(store, None, "login.failed", name[:200], client=client)
        raise AccessDenied("wrong user name or password")
    record(store, name, "login", name, client=client)
    cookie = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=SESSION_HOURS)
    with store.write.begin() as conn:
        conn.execute(
            insert(schema.sessions).values(
                id_hash=_sha(cookie),
                user=name,
                csrf=secrets.token_urlsafe(24),
                created_at=now(),
                expires_at=expires.isoformat(),
            )
        )
    return cookie


def session(store: Store, cookie: str | None) -> Session | None:
    """The live session a cookie stands for, or None (unknown or expired)."""
    if not cookie:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(
            select(schema.sessions).where(schema.sessions.c.id_hash == _sha(cookie))
        ).first()
    if row is None or row.expires_at < now():
        return None
    return Session(row.user, row.csrf)


def logout(store: Store, cookie: str) -> None:
    with store.write.begin() as conn:
        conn.execute(delete(schema.sessions).where(schema.sessions.c.id_hash == _sha(cookie)))


# -- the audit log of actions -------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    id: int
    actor: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    client: str | None
    created_at: str


def record(
    store: Store,
    actor: str | None,
    action: str,
    target: str | None = None,
    *,
    client: str | None = None,
    conn: Connection | None = None,
    **detail: Any,
) -> None:
    """Append an event; callers never pass secrets (tokens, passwords) in ``detail``.
    With ``conn``, the event commits (or not) with the change it records."""
    row = insert(schema.events).values(
        actor=actor,
        action=action,
        target=target,
        detail=json.dumps(detail, sort_keys=True, default=str),
        client=client,
        created_at=now(),
    )
    if conn is not None:
        conn.execute(row)
        return
    with store.write.begin() as own:
        own.execute(row)


def events(store: Store, *, limit: int = 200, before: int | None = None) -> list[Event]:
    q = select(schema.events).order_by(schema.events.c.id.desc()).limit(max(1, min(limit, 1000)))
    if before is not None:
        q = q.where(schema.events.c.id < before)
    with store.engine.connect() as conn:
        return [
            Event(
                r.id,
                r.actor,
                r.action,
                r.target,
                json.loads(r.detail or "{}"),
                r.client,
                r.created_at,
            )
            for r in conn.execute(q)
        ]
