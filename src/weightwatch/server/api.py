"""The registry's JSON API under ``/api/v1``: accounts, models and their reports, tiered
access settings and requests, takedowns and releases from quarantine, the transparency
log and the audit logs.

Who sees what follows the tiers of ``registry.access``, with one addition: a registry
shows that a takedown happened, so taken-down versions are listed (status, decisions,
attestation) to everyone, while their files and reports are for reviewers and admins
only and their downloads for nobody. A model the caller may not see is answered exactly
like one that does not exist (404). Errors are ``{"error": "..."}``; see
``docs/server-api.md`` for the whole table.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import and_, select

from weightwatch.attest.keys import public_pem
from weightwatch.errors import AccessDenied, RegistryError, TooManyAttempts, UsageError
from weightwatch.registry import Registry, accounts, schema
from weightwatch.registry.access import (
    Grant,
    Principal,
    access_report,
    create_token,
    gate_for,
    grant_state,
    grants,
    may_manage,
    may_read,
    model_access,
    principal_for,
    request_access,
    revoke_tokens,
    set_grant,
    set_model_access,
)
from weightwatch.registry.pipeline import report
from weightwatch.registry.registry import DecisionView, TreeNode, VersionView
from weightwatch.registry.store import LOG_ORIGIN, Store, parse_name
from weightwatch.server import auth
from weightwatch.server.api_models import (
    AccessRequest,
    AccessSettings,
    AccessSettingsView,
    Attestation,
    Consistency,
    Decision,
    DecisionProof,
    DownloadRow,
    EventRow,
    FileView,
    GateView,
    GrantView,
    LogEntry,
    LoginRequest,
    LoginResult,
    LogProof,
    Me,
    Member,
    ModelDetail,
    ModelSummary,
    NamespaceView,
    NewUser,
    OrgView,
    Owner,
    Reason,
    Revoked,
    TokenResult,
    UserView,
    VersionSummary,
)

REPORT_KINDS = ("scan", "facts", "decision", "lineage", "fingerprint", "audit")
STAFF_ONLY = ("blocked", "failed", "pending")  # not shown to anyone but reviewers and admins
PAGE = 100  # log entries per page, at most
AUDIT_PAGE = 500
RETRY_AFTER = str(int(accounts.FAILURE_WINDOW.total_seconds()))  # after throttled sign-ins


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"no model {what}")


def _grant(g: Grant) -> GrantView:
    return GrantView(**g.__dict__)


def _user(u: accounts.User) -> UserView:
    return UserView(
        name=u.name,
        role=u.role,
        email=u.email,
        country=u.country,
        orgs=list(u.orgs),
        disabled=u.disabled,
    )


# -- who sees what ---------------------------------------------------------------------------
def sees(store: Store, who: Principal | None, model_id: int, status: str) -> bool:
    """Whether ``who`` may know that a version exists (its metadata, not its files).
    Auditors read everything the registry records (they download by tier, like users)."""
    if who is not None and who.role == "auditor":
        return True
    if status in STAFF_ONLY:
        return who is not None and who.staff
    if status == "taken_down":
        return True
    return may_read(store, who, model_id, status) != "RepoNotFound"


def sees_content(store: Store, who: Principal | None, model_id: int, status: str) -> bool:
    """Whether ``who`` may list a visible version's files and read its reports. Gated
    versions are listed (as on the Hub); taken-down ones only to staff and auditors."""
    if status == "taken_down":
        return who is not None and (who.staff or who.role == "auditor")
    return sees(store, who, model_id, status)


def _rows(store: Store, ns: str | None = None, name: str | None = None) -> list[Any]:
    """Complete versions (newest first per model) with their model's id and name."""
    v, m = schema.versions.c, schema.models.c
    q = (
        select(
            v.id, v.number, v.status, v.access, v.completed_at, m.id.label("mid"), m.namespace,
            m.name,
        )
        .join(schema.models, m.id == v.model_id)
        .where(v.state == "complete")
        .order_by(m.namespace, m.name, v.number.desc())
    )  # fmt: skip
    if ns is not None:
        q = q.where(and_(m.namespace == ns, m.name == name))
    with store.engine.connect() as conn:
        return list(conn.execute(q).all())


def _version(
    store: Store, who: Principal | None, ns: str, name: str, number: int | None = None
) -> Any:
    """The newest version (or version ``number``) of a model that ``who`` may see; 404."""
    for r in _rows(store, ns, name):
        if (number is None or r.number == number) and sees(store, who, int(r.mid), r.status):
            return r
    raise _not_found(f"{ns}/{name}" + (f"@{number}" if number is not None else ""))


def _label_visible(store: Store, who: Principal | None, label: str) -> bool:
    ref, _, n = label.partition("@")
    ns, _, name = ref.partition("/")
    return any(
        r.number == int(n) and sees(store, who, int(r.mid), r.status)
        for r in _rows(store, ns, name)
    )


def _prune(store: Store, who: Principal | None, node: TreeNode) -> TreeNode:
    """The lineage tree without the versions ``who`` may not see (nor what hangs below)."""
    kids = [_prune(store, who, c) for c in node.children if _label_visible(store, who, c.model)]
    return node.model_copy(update={"children": kids})


def _content(store: Store, who: Principal | None, r: Any) -> None:
    if not sees_content(store, who, int(r.mid), r.status):
        raise HTTPException(403, f"{r.namespace}/{r.name}@{r.number} is taken down")


def _proof_hashes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _checkpoint_size(note: str) -> int:
    return int(note.split("\n")[1])


def router(registry: Registry) -> APIRouter:
    store = registry.store
    api = APIRouter(prefix="/api/v1", tags=["registry"])
    anyone = Depends(auth.caller(store))
    signed_in = Depends(auth.requires(store))
    admin = Depends(auth.requires(store, "admin"))
    staff = Depends(auth.requires(store, "reviewer", "admin"))
    overseer = Depends(auth.requires(store, "admin", "auditor"))

    # -- sessions and tokens ------------------------------------------------------------
    @api.post("/login", response_model=LoginResult, tags=["auth"])
    def login(body: LoginRequest, request: Request, response: Response) -> LoginResult:
        """Sign in: sets the HttpOnly session cookie and returns the session's CSRF token."""
        try:  # login() records the attempt (never the password) and throttles guessing
            cookie = accounts.login(store, body.user, body.password, client=auth.client_of(request))
            who = principal_for(store, body.user)
        except TooManyAttempts as exc:
            raise HTTPException(429, exc.message, {"Retry-After": RETRY_AFTER}) from None
        except (AccessDenied, UsageError) as exc:
            raise HTTPException(401, exc.message) from None
        s = accounts.session(store, cookie)
        assert s is not None  # just created
        response.set_cookie(
            auth.COOKIE,
            cookie,
            max_age=accounts.SESSION_HOURS * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return LoginResult(
            user=who.user, role=who.role, orgs=list(who.orgs), country=who.country, csrf=s.csrf
        )

    @api.post("/logout", tags=["auth"])
    def logout(request: Request, response: Response) -> dict[str, bool]:
        """End the browser session (its cookie stops working at once)."""
        cookie = request.cookies.get(auth.COOKIE)
        s = accounts.session(store, cookie)
        if cookie and s is not None:
            auth.check_csrf(store, request)
            accounts.logout(store, cookie)
            accounts.record(store, s.user, "logout", s.user, client=auth.client_of(request))
        response.delete_cookie(auth.COOKIE, path="/")
        return {"signed_out": s is not None}

    @api.get("/me", response_model=Me, tags=["auth"])
    def me(who: Principal = signed_in) -> Me:
        return Me(user=who.user, role=who.role, orgs=list(who.orgs), country=who.country)

    @api.post("/tokens", response_model=TokenResult, status_code=201, tags=["auth"])
    def new_token(request: Request, who: Principal = signed_in) -> TokenResult:
        """A new API token for the caller, shown once: send it as ``Authorization: Bearer``."""
        token = create_token(store, who.user, role=who.role, org=who.orgs[0] if who.orgs else None)
        accounts.record(store, who.user, "token.create", who.user, client=auth.client_of(request))
        return TokenResult(user=who.user, token=token)

    @api.delete("/tokens", response_model=Revoked, tags=["auth"])
    def drop_tokens(request: Request, who: Principal = signed_in) -> Revoked:
        """Revoke every API token of the caller (the one in use included)."""
        n = revoke_tokens(store, who.user)
        accounts.record(
            store, who.user, "token.revoke", who.user, client=auth.client_of(request), count=n
        )
        return Revoked(revoked=n)

    # -- administration -----------------------------------------------------------------
    @api.get("/users", response_model=list[UserView], tags=["admin"])
    def list_users(who: Principal = admin) -> list[UserView]:
        return [_user(u) for u in accounts.users(store)]

    @api.post("/users", response_model=UserView, status_code=201, tags=["admin"])
    def add_user(body: NewUser, request: Request, who: Principal = admin) -> UserView:
        u = accounts.create_user(
            store,
            body.name,
            body.password,
            role=body.role,
            email=body.email,
            country=body.country,
            orgs=tuple(body.orgs),
        )
        accounts.record(
            store, who.user, "user.create", u.name, client=auth.client_of(request), role=u.role
        )
        return _user(u)

    @api.post("/orgs/{org}/members", response_model=OrgView, tags=["admin"])
    def add_member(org: str, body: Member, request: Request, who: Principal = admin) -> OrgView:
        accounts.add_member(store, org, body.user)
        accounts.record(
            store, who.user, "org.member", org, client=auth.client_of(request), user=body.user
        )
        with store.engine.connect() as conn:
            members = conn.execute(
                select(schema.memberships.c.user)
                .where(schema.memberships.c.org == org)
                .order_by(schema.memberships.c.user)
            ).scalars()
            return OrgView(org=org, members=list(members))

    @api.put("/namespaces/{ns}", response_model=NamespaceView, tags=["admin"])
    def own_namespace(ns: str, body: Owner, request: Request, who: Principal = admin) -> Any:
        parse_name(f"{ns}/x")  # the namespace must be one a model could have
        accounts.set_namespace_owner(store, ns, body.org)
        accounts.record(
            store, who.user, "namespace.owner", ns, client=auth.client_of(request), org=body.org
        )
        return NamespaceView(namespace=ns, org=body.org)

    # -- models ---------------------------------------------------------------------------
    @api.get("/models", response_model=list[ModelSummary], tags=["models"])
    def list_models(
        q: str = "",
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        who: Principal | None = anyone,
    ) -> list[ModelSummary]:
        """The newest version of each model the caller may see, by name; ``q`` filters."""
        latest: dict[str, ModelSummary] = {}
        for r in _rows(store):
            name = f"{r.namespace}/{r.name}"
            if name in latest or q.lower() not in name.lower():
                continue
            if sees(store, who, int(r.mid), r.status):
                latest[name] = ModelSummary(
                    model=name,
                    version=r.number,
                    status=r.status,
                    access=r.access,
                    completed_at=r.completed_at,
                )
        return list(latest.values())[offset : offset + limit]

    @api.get("/models/{ns}/{name}", response_model=ModelDetail, tags=["models"])
    def model_detail(ns: str, name: str, who: Principal | None = anyone) -> ModelDetail:
        _version(store, who, ns, name)
        rows = [r for r in _rows(store, ns, name) if sees(store, who, int(r.mid), r.status)]
        ma = model_access(store, int(rows[0].mid))
        return ModelDetail(
            model=ma.name,
            owner_org=ma.owner_org,
            gate_mode=ma.gate_mode,
            allowed_orgs=list(ma.allowed_orgs) if may_manage(store, who, ma.model_id) else None,
            versions=[
                VersionSummary(
                    version=r.number, status=r.status, access=r.access, completed_at=r.completed_at
                )
                for r in rows
            ],
        )

    def view(who: Principal | None, r: Any) -> VersionView:
        v = registry.status(f"{r.namespace}/{r.name}@{r.number}")
        return v.model_copy(
            update={
                "parents": [e for e in v.parents if _label_visible(store, who, e.model)],
                "children": [e for e in v.children if _label_visible(store, who, e.model)],
            }
        )

    @api.get("/models/{ns}/{name}/versions/{n}", response_model=VersionView, tags=["models"])
    def version(ns: str, name: str, n: int, who: Principal | None = anyone) -> VersionView:
        """Status, decision and its history, digests, and the lineage edges you may see."""
        return view(who, _version(store, who, ns, name, n))

    @api.get(
        "/models/{ns}/{name}/versions/{n}/files", response_model=list[FileView], tags=["models"]
    )
    def files(ns: str, name: str, n: int, who: Principal | None = anyone) -> list[FileView]:
        r = _version(store, who, ns, name, n)
        _content(store, who, r)
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(schema.files.c.path, schema.files.c.size, schema.files.c.sha256)
                .where(schema.files.c.version_id == r.id)
                .order_by(schema.files.c.path)
            ).all()
        return [FileView(path=f.path, size=f.size, sha256=f.sha256) for f in rows]

    @api.get("/models/{ns}/{name}/versions/{n}/reports/{kind}", tags=["models"])
    def version_report(
        ns: str, name: str, n: int, kind: str, who: Principal | None = anyone
    ) -> Any:
        """A stored report as JSON: ``scan``, ``facts``, ``decision``, ``lineage``,
        ``fingerprint`` or ``audit``."""
        r = _version(store, who, ns, name, n)
        if kind not in REPORT_KINDS:
            raise HTTPException(404, f"no report kind {kind!r}; one of {', '.join(REPORT_KINDS)}")
        _content(store, who, r)
        with store.engine.connect() as conn:
            body = report(conn, int(r.id), kind)
        if body is None:
            raise HTTPException(404, f"{ns}/{name}@{n} has no {kind} report")
        return body

    @api.get(
        "/models/{ns}/{name}/versions/{n}/decisions",
        response_model=list[DecisionView],
        tags=["models"],
    )
    def decisions(ns: str, name: str, n: int, who: Principal | None = anyone) -> list[DecisionView]:
        """Every decision about the version, oldest first, with its log index."""
        return view(who, _version(store, who, ns, name, n)).history

    @api.get(
        "/models/{ns}/{name}/versions/{n}/attestation", response_model=Attestation, tags=["models"]
    )
    def attestation(ns: str, name: str, n: int, who: Principal | None = anyone) -> Attestation:
        """The signed DSSE bundle over the manifest, and log proofs for it and for the
        latest decision, under one signed checkpoint (check with ``weightwatch log verify``)."""
        r = _version(store, who, ns, name, n)
        with store.engine.connect() as conn:
            a = conn.execute(
                select(schema.attestations).where(schema.attestations.c.version_id == r.id)
            ).first()
        if a is None:
            raise HTTPException(404, f"{ns}/{name}@{n} has no attestation")
        proof = registry.decision_proof(f"{ns}/{name}@{n}")
        size = _checkpoint_size(proof["checkpoint"])
        return Attestation(
            model=f"{ns}/{name}@{n}",
            key_id=a.key_id,
            log_index=a.log_index,
            bundle=json.loads(a.bundle),
            attestation_proof=LogProof(
                index=a.log_index,
                size=size,
                hashes=_proof_hashes(store.log.inclusion_proof(a.log_index, size)),
                checkpoint=proof["checkpoint"],
            ),
            decision_proof=DecisionProof(**proof),
        )

    @api.get("/models/{ns}/{name}/lineage", response_model=TreeNode, tags=["models"])
    def lineage(ns: str, name: str, who: Principal | None = anyone) -> TreeNode:
        """The newest visible version's descendants (declared and detected) as a tree."""
        r = _version(store, who, ns, name)
        return _prune(store, who, registry.lineage_tree(f"{ns}/{name}@{r.number}"))

    # -- tiered access ------------------------------------------------------------------
    def managed(who: Principal, ns: str, name: str) -> Any:
        r = _version(store, who, ns, name)
        if not may_manage(store, who, int(r.mid)):
            raise HTTPException(403, f"you do not manage {ns}/{name}")
        return r

    @api.put("/models/{ns}/{name}/access", response_model=AccessSettingsView, tags=["access"])
    def settings(
        ns: str, name: str, body: AccessSettings, request: Request, who: Principal = signed_in
    ) -> AccessSettingsView:
        """Approval mode of the gate and organisations of a restricted model (managers)."""
        managed(who, ns, name)
        ma = set_model_access(
            store, f"{ns}/{name}", gate_mode=body.gate_mode, allowed_orgs=body.allowed_orgs
        )
        accounts.record(
            store,
            who.user,
            "model.access",
            ma.name,
            client=auth.client_of(request),
            gate_mode=ma.gate_mode,
            allowed_orgs=list(ma.allowed_orgs),
        )
        return AccessSettingsView(
            model=ma.name,
            owner_org=ma.owner_org,
            gate_mode=ma.gate_mode,
            allowed_orgs=list(ma.allowed_orgs),
        )

    @api.get("/models/{ns}/{name}/gate", response_model=GateView, tags=["access"])
    def gate(ns: str, name: str, who: Principal | None = anyone) -> GateView:
        """The form to fill in to request access (the card's ``extra_gated_*`` fields)."""
        r = _version(store, who, ns, name)
        mid = int(r.mid)
        return GateView(
            model=f"{ns}/{name}",
            gated=r.status == "gated",
            mode=model_access(store, mid).gate_mode,
            gate=gate_for(store, mid),
            request_state=grant_state(store, mid, who.user) if who else None,
        )

    @api.post(
        "/models/{ns}/{name}/access-requests",
        response_model=GrantView,
        status_code=201,
        tags=["access"],
    )
    def ask(
        ns: str, name: str, body: AccessRequest, request: Request, who: Principal = signed_in
    ) -> GrantView:
        """Request access to a gated model with the gate's answers: accepted at once by an
        ``auto`` gate, else ``pending`` until a manager decides."""
        r = _version(store, who, ns, name)
        if r.status != "gated":
            raise HTTPException(409, f"{ns}/{name} is {r.status}, not gated: nothing to request")
        g = request_access(store, f"{ns}/{name}", who, body.answers, client=auth.client_of(request))
        return _grant(g)

    @api.get("/access-requests", response_model=list[GrantView], tags=["access"])
    def list_requests(
        state: str | None = None, model: str | None = None, who: Principal = signed_in
    ) -> list[GrantView]:
        """Requests for the models you manage (all of them for auditors), and your own."""
        if model is not None:
            ns, name = parse_name(model)
            _version(store, who, ns, name)
        ids = {f"{r.namespace}/{r.name}": int(r.mid) for r in _rows(store)}
        return [
            _grant(g)
            for g in grants(store, model, state=state)
            if g.user == who.user or who.role == "auditor" or may_manage(store, who, ids[g.model])
        ]

    @api.post(
        "/models/{ns}/{name}/access-requests/{user}", response_model=GrantView, tags=["access"]
    )
    def decide(
        ns: str, name: str, user: str, body: Decision, request: Request, who: Principal = signed_in
    ) -> GrantView:
        """Accept or reject (with a reason) a user's request; managers of the model only."""
        managed(who, ns, name)
        set_grant(
            store,
            f"{ns}/{name}",
            user,
            body.state,
            reason=body.reason,
            actor=who.user,
            client=auth.client_of(request),
        )
        return _grant(grants(store, f"{ns}/{name}", user=user)[0])

    @api.get(
        "/models/{ns}/{name}/access-report.csv",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/csv": {}}}},
        tags=["access"],
    )
    def report_csv(ns: str, name: str, who: Principal = signed_in) -> Response:
        """Every request with its answers, as CSV (managers of the model and auditors)."""
        rows = _rows(store, ns, name)
        if not rows:
            raise _not_found(f"{ns}/{name}")
        if who.role != "auditor":
            managed(who, ns, name)
        return Response(
            access_report(store, f"{ns}/{name}"),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}-access.csv"'},
        )

    # -- takedowns ------------------------------------------------------------------------
    def set_down(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal, *, down: bool
    ) -> VersionView:
        ref = f"{ns}/{name}@{_version(store, who, ns, name, n).number}"
        act = registry.takedown if down else registry.reinstate
        act(ref, reason=body.reason, actor=who.user)
        accounts.record(
            store,
            who.user,
            "model.takedown" if down else "model.reinstate",
            ref,
            client=auth.client_of(request),
            reason=body.reason,
        )
        return view(who, _version(store, who, ns, name, n))

    @api.post(
        "/models/{ns}/{name}/versions/{n}/takedown", response_model=VersionView, tags=["takedowns"]
    )
    def takedown(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = staff
    ) -> VersionView:
        """Take a version down (logged with the reason); its descendants are re-decided."""
        return set_down(ns, name, n, body, request, who, down=True)

    @api.post(
        "/models/{ns}/{name}/versions/{n}/reinstate", response_model=VersionView, tags=["takedowns"]
    )
    def reinstate(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = staff
    ) -> VersionView:
        """Undo a takedown (logged with the reason); the version is decided afresh."""
        return set_down(ns, name, n, body, request, who, down=False)

    @api.post(
        "/models/{ns}/{name}/versions/{n}/release", response_model=VersionView, tags=["takedowns"]
    )
    def release(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = staff
    ) -> VersionView:
        """Release a quarantined version after review (logged as a decision with the
        reason): what it was quarantined for stops counting; blocks and gates still apply,
        and a new quarantine reason holds it again. 409 unless it is quarantined."""
        ref = f"{ns}/{name}@{_version(store, who, ns, name, n).number}"
        registry.release(ref, reason=body.reason, actor=who.user)
        accounts.record(
            store,
            who.user,
            "model.release",
            ref,
            client=auth.client_of(request),
            reason=body.reason,
        )
        return view(who, _version(store, who, ns, name, n))

    # -- the transparency log ---------------------------------------------------------------
    def entry(i: int) -> LogEntry:
        try:
            e = store.log.entry(i)
        except RegistryError:
            raise HTTPException(404, f"no log entry {i}") from None
        return LogEntry(
            index=e.index,
            kind=e.kind,
            leaf=e.leaf.decode("utf-8", "replace"),
            leaf_hash=e.leaf_hash.hex(),
            created_at=e.created_at,
        )

    @api.get("/log/checkpoint", response_class=PlainTextResponse, tags=["log"])
    def checkpoint() -> str:
        """The log's current signed tree head (C2SP signed note)."""
        return store.log.checkpoint(store.signer, origin=LOG_ORIGIN)

    @api.get("/log/key", response_class=PlainTextResponse, tags=["log"])
    def log_key() -> str:
        """The log's Ed25519 public key (PEM), for ``weightwatch log verify --pub``."""
        return public_pem(store.signer.public_key).decode()

    @api.get("/log/entries", response_model=list[LogEntry], tags=["log"])
    def entries(start: int = Query(0, ge=0), end: int | None = Query(None, ge=0)) -> list[LogEntry]:
        """Entries ``start`` to ``end`` (exclusive), at most 100 per page."""
        stop = min(end if end is not None else start + PAGE, start + PAGE)
        if stop < start:
            raise HTTPException(400, f"end ({end}) is before start ({start})")
        return [entry(e.index) for e in store.log.entries(start, stop)]

    @api.get("/log/entries/{i}", response_model=LogEntry, tags=["log"])
    def one_entry(i: int) -> LogEntry:
        return entry(i)

    @api.get("/log/entries/{i}/proof", response_model=LogProof, tags=["log"])
    def inclusion(i: int, size: int | None = Query(None, ge=1)) -> LogProof:
        """Inclusion of entry ``i`` in the tree of ``size`` entries (default: the current
        signed checkpoint, which is returned too)."""
        note = None
        if size is None:
            note = store.log.checkpoint(store.signer, origin=LOG_ORIGIN)
            size = _checkpoint_size(note)
        try:
            hashes = store.log.inclusion_proof(i, size)
        except RegistryError as exc:
            raise HTTPException(400, exc.message) from None
        return LogProof(index=i, size=size, hashes=_proof_hashes(hashes), checkpoint=note)

    @api.get("/log/consistency", response_model=Consistency, tags=["log"])
    def consistency(
        first: int = Query(ge=1), second: int | None = Query(None, ge=1)
    ) -> Consistency:
        """That the tree of ``second`` entries (default: the current checkpoint) extends the
        tree of ``first`` entries."""
        note = None
        if second is None:
            note = store.log.checkpoint(store.signer, origin=LOG_ORIGIN)
            second = _checkpoint_size(note)
        try:
            hashes = store.log.consistency_proof(first, second)
            roots = store.log.root(first), store.log.root(second)
        except RegistryError as exc:
            raise HTTPException(400, exc.message) from None
        return Consistency(
            first=first,
            second=second,
            first_root=roots[0].hex(),
            second_root=roots[1].hex(),
            hashes=_proof_hashes(hashes),
            checkpoint=note,
        )

    # -- audit logs (admins and auditors) -----------------------------------------------
    @api.get("/audit/downloads", response_model=list[DownloadRow], tags=["audit"])
    def downloads(
        limit: int = Query(100, ge=1, le=AUDIT_PAGE),
        before: int | None = Query(None, ge=1),
        user: str | None = None,
        who: Principal = overseer,
    ) -> list[DownloadRow]:
        """File requests, served and denied, newest first; page with ``before`` (an id)."""
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
        with store.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            DownloadRow(
                id=r.id,
                user=r.user,
                model=f"{r.namespace}/{r.name}@{r.number}",
                path=r.path,
                client=r.client,
                outcome=r.outcome,
                created_at=r.created_at,
            )
            for r in rows
        ]

    @api.get("/audit/events", response_model=list[EventRow], tags=["audit"])
    def audit_events(
        limit: int = Query(100, ge=1, le=AUDIT_PAGE),
        before: int | None = Query(None, ge=1),
        who: Principal = overseer,
    ) -> list[EventRow]:
        """Actions (sign-ins, tokens, access decisions, takedowns, settings), newest first."""
        return [EventRow(**e.__dict__) for e in accounts.events(store, limit=limit, before=before)]

    return api
