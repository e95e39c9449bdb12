"""Who may fetch what: API tokens, tiered access, access requests, and the download log.

Tokens are random 32-byte secrets shown once; only their SHA-256 is stored. A version's
status decides its tier:

- ``published``: anyone;
- ``gated``: an accepted access request for the model, or its owners and staff;
- ``restricted``: members of the organisations named for the model (and owners, staff);
  to everyone else it does not exist (as a private repository on the Hub);
- ``quarantined``: reviewers and admins only;
- ``taken_down`` (and ``blocked``, ``failed``): nobody.

Owners are the user whose name is the namespace, or members of the organisation that
owns it. Requests follow the Hub's gate: the card's form is checked, then accepted at
once (``auto``) or left ``pending`` for a reviewer or owner (``manual``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, select, update

from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry import queries, schema
from weightwatch.registry.accounts import (
    ROLES,
    check_org_name,
    check_reason,
    get_user,
    record,
)
from weightwatch.registry.gates import Gate, check_answers, eu_refusal, gate_from_card
from weightwatch.registry.states import STAFF, Role
from weightwatch.registry.store import Store, now, parse_name
from weightwatch.registry.webhooks import access_event

TOKEN_PREFIX = "ww_"  # noqa: S105  (a prefix that makes leaked tokens greppable)
GATE_MODES = ("auto", "manual")
MAX_ALLOWED_ORGS = 100
CARD_LIMIT = 1 << 20


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    orgs: tuple[str, ...] = ()
    country: str | None = None
    token: str | None = None  # the API token's id (start of its hash) when one was used

    @property
    def staff(self) -> bool:
        return self.role in STAFF

    def owns(self, namespace: str, owner_org: str | None) -> bool:
        return namespace == self.user or (owner_org is not None and owner_org in self.orgs)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_ref(token: str) -> str:
    """A token's public id: the start of its SHA-256 (never the token)."""
    return _hash(token)[:16]


def create_token(
    store: Store, user: str, *, role: str | None = None, org: str | None = None
) -> str:
    """A new API token for the account ``user`` (returned once; only its hash is kept);
    it acts with the account's current role and organisations. ``role`` and ``org``, if
    given, only confirm them: a token never grants what its account lacks, so a typo or
    an escalation (``--role admin`` for a plain user, a user with no account) is a
    ``UsageError`` and no token is made."""
    if role is not None and role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    account = get_user(store, user)  # UsageError: no user
    if account.disabled:
        raise UsageError(f"account {user!r} is disabled: no token made")
    if role is not None and role != account.role:
        raise UsageError(
            f"user {user!r} has the role {account.role}, not {role}: a token carries its "
            "account's role (change the role first, with `weightwatch registry user`)"
        )
    if org is not None and org not in account.orgs:
        raise UsageError(f"user {user!r} is not a member of organisation {org!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write.begin() as conn:
        conn.execute(
            schema.tokens.insert().values(
                token_hash=_hash(token), user=user, role=account.role, org=org, created_at=now()
            )
        )
    return token


def revoke_tokens(store: Store, user: str) -> int:
    with store.write.begin() as conn:
        return int(
            conn.execute(
                update(schema.tokens)
                .where(and_(schema.tokens.c.user == user, schema.tokens.c.revoked_at.is_(None)))
                .values(revoked_at=now())
            ).rowcount
        )


def principal_for(store: Store, user: str) -> Principal:
    """The principal of an account (its current role and organisations)."""
    u = get_user(store, user)
    if u.disabled:
        raise AccessDenied(f"account {user!r} is disabled")
    return Principal(u.name, u.role, u.orgs, u.country)


def authenticate(store: Store, token: str | None) -> Principal | None:
    """The principal a bearer token stands for; None for anonymous, AccessDenied if bad.

    Checked against the database on every request (two queries), so a revoked token or a
    disabled account stops working at once."""
    if not token:
        return None
    t, u = schema.tokens.c, schema.users.c
    with store.engine.connect() as conn:
        columns = (t.user, t.role, t.org, t.revoked_at, u.country, u.disabled_at)
        row = conn.execute(
            select(*columns, u.name.label("account"), u.role.label("account_role"))
            .select_from(schema.tokens.outerjoin(schema.users, u.name == t.user))
            .where(t.token_hash == _hash(token))
        ).first()
        if row is None or row.revoked_at is not None:
            raise AccessDenied("invalid or revoked token")
        token_id = token_ref(token)
        if row.account is None:  # made for a name without an account (before 0.x): refused
            raise AccessDenied("invalid or revoked token")
        if row.disabled_at is not None:
            raise AccessDenied(f"account {row.user!r} is disabled")
        orgs = conn.execute(
            select(schema.memberships.c.org)
            .where(schema.memberships.c.user == row.user)
            .order_by(schema.memberships.c.org)
        ).scalars()
        return Principal(row.user, row.account_role, tuple(orgs), row.country, token=token_id)


# -- per-model settings ---------------------------------------------------------------------
@dataclass(frozen=True)
class ModelAccess:
    name: str
    model_id: int
    owner_org: str | None
    gate_mode: str
    allowed_orgs: tuple[str, ...]


def _model_id(store: Store, name: str) -> int:
    ns, model = parse_name(name)
    with store.engine.connect() as conn:
        mid = queries.model_id(conn, ns, model)
    if mid is None:
        raise UsageError(f"no model {name!r}")
    return mid


def model_access(store: Store, model_id: int) -> ModelAccess:
    """A model's name, owning organisation, gate mode and allowed organisations (one query)."""
    m, a, n = schema.models.c, schema.model_access.c, schema.namespaces.c
    with store.engine.connect() as conn:
        row = conn.execute(
            select(m.namespace, m.name, a.gate_mode, a.allowed_orgs, n.org)
            .select_from(
                schema.models.outerjoin(schema.model_access, a.model_id == m.id).outerjoin(
                    schema.namespaces, n.namespace == m.namespace
                )
            )
            .where(m.id == model_id)
        ).one()
    return ModelAccess(
        f"{row.namespace}/{row.name}",
        model_id,
        row.org,
        row.gate_mode or "manual",
        tuple(json.loads(row.allowed_orgs)) if row.allowed_orgs else (),
    )


def set_model_access(
    store: Store,
    name: str,
    *,
    gate_mode: str | None = None,
    allowed_orgs: list[str] | None = None,
    actor: str = "cli",
    client: str | None = None,
) -> ModelAccess:
    """Set the gate's approval mode and/or a restricted model's organisations; the change
    is recorded in the action log (``model.access``) whoever calls."""
    if gate_mode is not None and gate_mode not in GATE_MODES:
        raise UsageError(f"gate mode must be auto or manual, not {gate_mode!r}")
    if allowed_orgs is not None:
        if len(allowed_orgs) > MAX_ALLOWED_ORGS:
            raise UsageError(f"at most {MAX_ALLOWED_ORGS} organisations may be allowed")
        for o in allowed_orgs:
            check_org_name(o)
    mid = _model_id(store, name)
    cur = model_access(store, mid)
    values = {
        "gate_mode": gate_mode or cur.gate_mode,
        "allowed_orgs": json.dumps(
            sorted(set(allowed_orgs if allowed_orgs is not None else cur.allowed_orgs))
        ),
        "updated_at": now(),
    }
    with store.write.begin() as conn:
        key = schema.model_access.c.model_id == mid
        if conn.execute(select(schema.model_access).where(key)).first() is None:
            conn.execute(insert(schema.model_access).values(model_id=mid, **values))
        else:
            conn.execute(update(schema.model_access).where(key).values(**values))
    ma = model_access(store, mid)
    record(
        store,
        actor,
        "model.access",
        ma.name,
        client=client,
        gate_mode=ma.gate_mode,
        allowed_orgs=list(ma.allowed_orgs),
    )
    return ma


def may_manage(store: Store, who: Principal | None, model_id: int) -> bool:
    """Whether ``who`` may decide access requests and settings for a model."""
    if who is None:
        return False
    if who.staff:
        return True
    ma = model_access(store, model_id)
    return who.role == Role.PUBLISHER and who.owns(ma.name.split("/")[0], ma.owner_org)


# -- access requests ------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    model: str
    user: str
    state: str
    reason: str | None
    answers: dict[str, Any]
    decided_by: str | None
    requested_at: str | None
    updated_at: str


def grant_state(store: Store, model_id: int, user: str) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(
            select(schema.grants.c.state).where(
                and_(schema.grants.c.model_id == model_id, schema.grants.c.user == user)
            )
        ).scalar_one_or_none()


def gate_for(store: Store, model_id: int) -> Gate:
    """The gate declared by the card of the model's newest complete version."""
    from weightwatch.artifacts.hfrepo import parse_card

    with store.engine.connect() as conn:
        newest = queries.latest_complete_of(conn, model_id)
        card = [f for f in queries.files(conn, newest) if f.path == "README.md"] if newest else []
    sha = card[0].sha256 if card else None
    if sha is None or not store.blobs.exists(sha):
        return Gate()
    text = store.blobs.read(sha, CARD_LIMIT).decode("utf-8", "replace")
    return gate_from_card(parse_card(text, []).front_matter)


def _upsert_grant(store: Store, model_id: int, user: str, **values: Any) -> None:
    values["updated_at"] = now()
    with store.write.begin() as conn:
        key = and_(schema.grants.c.model_id == model_id, schema.grants.c.user == user)
        if conn.execute(select(schema.grants.c.state).where(key)).first() is None:
            conn.execute(schema.grants.insert().values(model_id=model_id, user=user, **values))
        else:
            conn.execute(update(schema.grants).where(key).values(**values))


def request_access(
    store: Store,
    name: str,
    who: Principal,
    answers: dict[str, Any],
    *,
    client: str | None = None,
) -> Grant:
    """File ``who``'s request with the gate's form; auto gates accept at once, an EU
    refusal rejects at once, manual gates leave it pending. Re-requesting after a
    rejection files a fresh pending request."""
    mid = _model_id(store, name)
    gate = gate_for(store, mid)
    clean = check_answers(gate, answers)
    refusal = eu_refusal(gate, clean, who.country)
    mode = model_access(store, mid).gate_mode
    if refusal:
        state, reason, by = "rejected", refusal, "auto"
    elif mode == "auto":
        state, reason, by = "accepted", None, "auto"
    else:
        state, reason, by = "pending", None, None
    if grant_state(store, mid, who.user) == "accepted":
        raise UsageError(f"{who.user} already has access to {name}")
    _upsert_grant(
        store,
        mid,
        who.user,
        state=state,
        reason=reason,
        answers=json.dumps(clean, sort_keys=True),
        decided_by=by,
        requested_at=now(),
    )
    record(store, who.user, "access.request", name, client=client, state=state)
    if state != "pending":  # decided at once (auto gate, EU refusal): tell the requester
        access_event(store, who.user, name, state=state, reason=reason)
    return grants(store, name, user=who.user)[0]


def set_grant(
    store: Store,
    name: str,
    user: str,
    state: str,
    *,
    reason: str | None = None,
    actor: str = "cli",
    client: str | None = None,
) -> None:
    """Request (``pending``), accept or reject a user's access to a gated model."""
    if state not in ("pending", "accepted", "rejected"):
        raise UsageError(f"grant state must be pending, accepted or rejected, not {state!r}")
    if state == "rejected" and not (reason and reason.strip()):
        raise UsageError("a rejection needs a reason")
    check_reason(reason)
    get_user(store, user)  # UsageError for a user with no account (a typo)
    mid = _model_id(store, name)
    values: dict[str, Any] = {"state": state, "reason": reason}
    if state == "pending":
        values["requested_at"] = now()
    else:
        values["decided_by"] = actor
    _upsert_grant(store, mid, user, **values)
    record(store, actor, f"access.{state}", name, client=client, user=user, reason=reason)
    if state != "pending":  # the requester's webhooks hear the decision
        access_event(store, user, name, state=state, reason=reason)


def grants(
    store: Store, name: str | None = None, *, state: str | None = None, user: str | None = None
) -> list[Grant]:
    q = (
        select(schema.grants, schema.models.c.namespace, schema.models.c.name)
        .join(schema.models, schema.models.c.id == schema.grants.c.model_id)
        .order_by(schema.grants.c.requested_at, schema.grants.c.user)
    )
    if name is not None:
        q = q.where(schema.grants.c.model_id == _model_id(store, name))
    if state is not None:
        q = q.where(schema.grants.c.state == state)
    if user is not None:
        q = q.where(schema.grants.c.user == user)
    with store.engine.connect() as conn:
        return [
            Grant(
                f"{r.namespace}/{r.name}",
                r.user,
                r.state,
                r.reason,
                json.loads(r.answers or "{}"),
                r.decided_by,
                r.requested_at,
                r.updated_at,
            )
            for r in conn.execute(q)
        ]


def access_report(store: Store, name: str) -> str:
    """CSV of every request for a model with its form answers (the Hub's export)."""
    rows = grants(store, name)
    labels = [f.label for f in gate_for(store, _model_id(store, name)).fields]
    for g in rows:
        labels += [k for k in g.answers if k not in labels]
    out = io.StringIO()
    w = csv.writer(out)
    header = ["user", "state", "reason", "decided_by", "requested_at", "updated_at"]
    w.writerow([*header, *(_cell(label) for label in labels)])  # labels are publisher-set
    for g in rows:
        w.writerow(
            [
                g.user,
                g.state,
                _cell(g.reason or ""),
                g.decided_by or "",
                g.requested_at or "",
                g.updated_at,
                *(_cell(g.answers.get(k, "")) for k in labels),
            ]
        )
    return out.getvalue()


def _cell(v: Any) -> str:
    """A CSV cell that spreadsheets will not evaluate as a formula (answers, reasons and
    the gate's labels are user data): OWASP's list of leading characters."""
    s = str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


# -- the download log ------------------------------------------------------------------------
def log_download(
    store: Store,
    who: Principal | None,
    version_id: int,
    path: str,
    client: str | None,
    outcome: str,
    *,
    copy_key_id: str | None = None,
) -> None:
    """Append one request to the download log (``copy_key_id``: the recipient copy's key
    id when the bytes served were a marked copy, ``registry.recipients``)."""
    with store.write.begin() as conn:
        conn.execute(
            schema.downloads.insert().values(
                user=who.user if who else None,
                token=who.token if who else None,
                version_id=version_id,
                path=path,
                client=client,
                outcome=outcome,
                created_at=now(),
                copy_key_id=copy_key_id,
            )
        )
