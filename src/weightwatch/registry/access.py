"""Who may fetch what: API tokens, access grants, tiered access, and the download log.

Tokens are random 32-byte secrets shown once; only their SHA-256 is stored. A version's
status decides its tier: ``published`` is open, ``gated`` and ``restricted`` need an
accepted grant for the model (or a reviewer/admin), ``quarantined`` is for reviewers and
admins only, ``taken_down``/``blocked``/``failed`` are for nobody.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import and_, select, update

from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry import schema
from weightwatch.registry.store import Store, now, parse_name

ROLES = ("admin", "reviewer", "publisher", "auditor", "user")
TOKEN_PREFIX = "ww_"  # noqa: S105  (a prefix that makes leaked tokens greppable)


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    org: str | None

    @property
    def staff(self) -> bool:
        return self.role in ("admin", "reviewer")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, user: str, *, role: str = "user", org: str | None = None) -> str:
    """A new API token for ``user`` (returned once; only its hash is kept)."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write.begin() as conn:
        conn.execute(
            schema.tokens.insert().values(
                token_hash=_hash(token), user=user, role=role, org=org, created_at=now()
            )
        )
    return token


def authenticate(store: Store, token: str | None) -> Principal | None:
    """The principal a bearer token stands for; None for anonymous, AccessDenied if bad."""
    if not token:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(
            select(schema.tokens).where(schema.tokens.c.token_hash == _hash(token))
        ).first()
    if row is None or row.revoked_at is not None:
        raise AccessDenied("invalid or revoked token")
    return Principal(row.user, row.role, row.org)


def _model_id(store: Store, name: str) -> int:
    ns, model = parse_name(name)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(schema.models.c.id).where(
                and_(schema.models.c.namespace == ns, schema.models.c.name == model)
            )
        ).first()
    if row is None:
        raise UsageError(f"no model {name!r}")
    return int(row[0])


def set_grant(store: Store, name: str, user: str, state: str, *, reason: str | None = None) -> None:
    """Request (``pending``), accept or reject a user's access to a gated model."""
    if state not in ("pending", "accepted", "rejected"):
        raise UsageError(f"grant state must be pending, accepted or rejected, not {state!r}")
    if state == "rejected" and not reason:
        raise UsageError("a rejection needs a reason")
    mid = _model_id(store, name)
    with store.write.begin() as conn:
        key = and_(schema.grants.c.model_id == mid, schema.grants.c.user == user)
        if conn.execute(select(schema.grants.c.state).where(key)).first() is None:
            conn.execute(
                schema.grants.insert().values(
                    model_id=mid, user=user, state=state, reason=reason, updated_at=now()
                )
            )
        else:
            conn.execute(
                update(schema.grants)
                .where(key)
                .values(state=state, reason=reason, updated_at=now())
            )


def may_read(store: Store, who: Principal | None, model_id: int, status: str) -> str | None:
    """None if ``who`` may read a version with ``status``; else why not (the error code)."""
    if status == "published":
        return None
    if status in ("taken_down", "blocked", "failed", "pending"):
        return "Disabled"
    if who is not None and who.staff:
        return None
    if status == "quarantined":
        return "RepoNotFound"
    if who is None:
        return "GatedRepo"
    with store.engine.connect() as conn:
        state = conn.execute(
            select(schema.grants.c.state).where(
                and_(schema.grants.c.model_id == model_id, schema.grants.c.user == who.user)
            )
        ).scalar_one_or_none()
    return None if state == "accepted" else "GatedRepo"


def log_download(
    store: Store,
    who: Principal | None,
    version_id: int,
    path: str,
    client: str | None,
    outcome: str,
) -> None:
    with store.write.begin() as conn:
        conn.execute(
            schema.downloads.insert().values(
                user=who.user if who else None,
                version_id=version_id,
                path=path,
                client=client,
                outcome=outcome,
                created_at=now(),
            )
        )
