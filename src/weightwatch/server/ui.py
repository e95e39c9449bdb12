"""Server-rendered pages: models with status and tier badges, a model page (decision,
findings, files, card, lineage picture, attestation and log proof, access requests,
takedown, release from quarantine), sign-in, the upload page, reviewer queues, the
transparency-log browser and a watermark detection form.

Templates are Jinja2 with autoescaping on: every name, reason, answer and card string
is data from uploads and is escaped, never rendered as markup (the card is shown as
text). Visibility follows ``access.may_read``; a version the caller may not see is a
404 page. Every POST form carries the session's CSRF token, checked by
``auth.check_csrf``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection, and_, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from weightwatch import __version__
from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import KeyVerifier
from weightwatch.errors import (
    AccessDenied,
    RegistryError,
    TooManyAttempts,
    UsageError,
    WeightwatchError,
)
from weightwatch.registry import Registry, schema
from weightwatch.registry.access import (
    Principal,
    access_report,
    gate_for,
    grants,
    may_manage,
    may_read,
    request_access,
    set_grant,
)
from weightwatch.registry.accounts import FAILURE_WINDOW, get_user, login, logout, record
from weightwatch.registry.gates import countries
from weightwatch.registry.pipeline import report
from weightwatch.registry.registry import ACCESS
from weightwatch.registry.store import LOG_ORIGIN
from weightwatch.server import lineage_svg
from weightwatch.server.auth import COOKIE, browser_session, check_csrf, client_of, principal
from weightwatch.server.watermark_api import RateLimiter

PAGE = 50  # log entries per page
CARD_LIMIT = 64 << 10  # bytes of a model card shown
STAFF = ("admin", "reviewer")
UPLOADERS = ("admin", "publisher")

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
)


def _who(registry: Registry, request: Request) -> Principal | None:
    try:
        return principal(registry.store, request)
    except AccessDenied:
        return None  # a bad token browses as anonymous; the API answers 401 instead


def _safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _model_ids(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(schema.models.c.id, schema.models.c.namespace, schema.models.c.name))
    return {f"{r.namespace}/{r.name}": int(r.id) for r in rows}


PAGE_SIZE = 50  # models per list page


def visibility(registry: Registry, who: Principal | None, model_id: int, status: str) -> str:
    """``full``, ``gated`` (page and form, no downloads), ``audit`` (an auditor's view of a
    restricted or quarantined version: the page and file names, no downloads), ``down``
    (page without files: taken down for all; blocked or failed for staff) or ``hidden``
    (a 404)."""
    if status == "taken_down":
        return "down"
    denied = may_read(registry.store, who, model_id, status)
    if denied is None:
        return "full"
    if denied == "GatedRepo":
        return "gated"
    if denied == "Disabled" and who is not None and who.staff:
        return "down"
    if denied == "RepoNotFound" and who is not None and who.role == "auditor":
        return "audit"  # auditors read every record (as over the API); downloads by tier
    return "hidden"


def _form_value(form: FormData, key: str) -> str:
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


def render(
    registry: Registry, request: Request, template: str, *, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    """A page of the site layout (navigation for the caller, the session's CSRF token)."""
    s = browser_session(registry.store, request)
    html = _env.get_template(template).render(
        version=__version__,
        who=_who(registry, request),
        csrf=s.csrf if s else "",
        path=request.url.path,
        **ctx,
    )
    headers = {"Retry-After": str(ctx["retry_after"])} if ctx.get("retry_after") else None
    return HTMLResponse(html, status_code=status_code, headers=headers)


def error_page(
    registry: Registry, request: Request, status_code: int, title: str, message: str
) -> HTMLResponse:
    """The site's error page (also for errors no page handled: unknown paths, bad query
    values)."""
    return render(
        registry, request, "error.html", status_code=status_code, title=title, message=message
    )


def router(registry: Registry, *, watermark_master: Path | None = None) -> APIRouter:
    """The pages over ``registry``; ``watermark_master`` enables the detection form."""
    ui = APIRouter(include_in_schema=False)
    store = registry.store
    limiter = RateLimiter(30, 10)

    def page(
        request: Request, template: str, *, status_code: int = 200, **ctx: Any
    ) -> HTMLResponse:
        return render(registry, request, template, status_code=status_code, **ctx)

    def error(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        return error_page(registry, request, status_code, title, message)

    def not_found(request: Request, what: str) -> HTMLResponse:
        return error(request, 404, "Not found", f"There is no model {what} you can see.")

    def signed_in(request: Request, roles: tuple[str, ...] = ()) -> Principal | Response:
        """The caller, a redirect to sign in, or a 403 page."""
        who = _who(registry, request)
        if who is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
        if roles and who.role not in roles:
            return error(
                request, 403, "Not allowed", f"This page needs the role {' or '.join(roles)}."
            )
        return who

    async def posted(request: Request, handle: Callable[[Request, FormData], Response]) -> Response:
        """Read a form, check its CSRF token, and handle it in a worker thread."""
        form = await request.form()
        try:
            check_csrf(store, request, _form_value(form, "csrf"))
        except HTTPException as exc:
            return error(request, exc.status_code, "Form expired", str(exc.detail))
        return await run_in_threadpool(handle, request, form)

    # -- signing in and out ------------------------------------------------------------
    @ui.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", next=_safe_next(next), error_message="", user="")

    def do_login(request: Request, form: FormData) -> Response:
        # no account name is longer than 100 characters; the cap keeps the event row in bounds
        user, password = _form_value(form, "user")[:200], str(form.get("password") or "")
        nxt = _safe_next(_form_value(form, "next"))
        try:  # login() records the attempt (never the password) and throttles guessing
            cookie = login(store, user, password, client=client_of(request))
        except TooManyAttempts:
            wait = int(FAILURE_WINDOW.total_seconds())
            message = (
                f"Too many failed sign-ins for {user}: sign-in is paused for this account. "
                f"Try again in {wait // 60} minutes."
            )
            return page(
                request,
                "login.html",
                status_code=429,
                next=nxt,
                error_message=message,
                user=user,
                retry_after=wait,
            )
        except (AccessDenied, UsageError) as exc:
            return page(
                request,
                "login.html",
                status_code=401,
                next=nxt,
                error_message=exc.message,
                user=user,
            )
        old = request.cookies.get(COOKIE)
        if old:
            logout(store, old)
        resp = RedirectResponse(nxt, 303)
        resp.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return resp

    @ui.post("/login")
    async def login_post(request: Request) -> Response:
        return await posted(request, do_login)

    def do_logout(request: Request, form: FormData) -> Response:
        s = browser_session(store, request)
        cookie = request.cookies.get(COOKIE)
        if cookie:
            logout(store, cookie)
        if s is not None:
            record(store, s.user, "logout", s.user, client=client_of(request))
        resp = RedirectResponse("/", 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @ui.post("/logout")
    async def logout_post(request: Request) -> Response:
        return await posted(request, do_logout)

    # -- models ------------------------------------------------------------------------
    @ui.get("/", response_class=HTMLResponse)
    def models(request: Request, q: str = "", p: int = 1) -> HTMLResponse:
        """The newest version of each model the caller may see, by name, a page at a time
        (light rows for all, full views only for the page shown)."""
        who = _who(registry, request)
        p = max(1, p)
        v, m = schema.versions.c, schema.models.c
        query = (
            select(v.id, v.status, m.id.label("mid"), m.namespace, m.name)
            .join(schema.models, m.id == v.model_id)
            .where(v.state == "complete")
            .order_by(m.namespace, m.name, v.number.desc())
        )
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where((m.namespace + "/" + m.name).ilike(pattern, escape="\\"))
        total, shown, names = 0, [], set()
        with store.engine.connect() as conn:
            for r in conn.execute(query):
                name = f"{r.namespace}/{r.name}"
                if name in names:
                    continue  # newest first: the newest visible version wins
                always = r.status in ("published", "gated", "taken_down")
                if not always and visibility(registry, who, int(r.mid), r.status) == "hidden":
                    continue
                names.add(name)
                total += 1
                if (p - 1) * PAGE_SIZE < total <= p * PAGE_SIZE:
                    shown.append(int(r.id))
            rows = [registry._view(conn, vid) for vid in shown]
        pages = max(1, -(-total // PAGE_SIZE))
        return page(request, "models.html", rows=rows, q=q, total=total, p=p, pages=pages)

    def model_page(
        request: Request, ns: str, name: str, v: int | None, *, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        who = _who(registry, request)
        full = f"{ns}/{name}"
        ref = f"{full}@{v}" if v else full
        with store.engine.connect() as conn:
            try:
                vid = registry._version_id(conn, ref)
            except (RegistryError, UsageError):
                return not_found(request, ref)
            view = registry._view(conn, vid)
            ids = _model_ids(conn)
            mid = ids[full]
            seen = visibility(registry, who, mid, view.status)
            if seen == "hidden":
                return not_found(request, ref)
            files = conn.execute(
                select(schema.files)
                .where(schema.files.c.version_id == vid)
                .order_by(schema.files.c.path)
            ).all()
            scan = report(conn, vid, "scan") or {}
            audit = report(conn, vid, "audit")
            att = conn.execute(
                select(schema.attestations).where(schema.attestations.c.version_id == vid)
            ).first()
            takedown = takedown_of(conn, view.model) if view.status == "taken_down" else None
            history = [
                (r.number, r.status)
                for r in conn.execute(
                    select(schema.versions.c.number, schema.versions.c.status)
                    .where(
                        and_(
                            schema.versions.c.model_id == mid,
                            schema.versions.c.state == "complete",
                        )
                    )
                    .order_by(schema.versions.c.number.desc())
                )
                if visibility(registry, who, mid, r.status) != "hidden"
            ]
            parent_status = {
                p.model: str(
                    conn.execute(
                        select(schema.versions.c.status).where(
                            schema.versions.c.id == registry._version_id(conn, p.model)
                        )
                    ).scalar_one()
                )
                for p in view.parents
            }
        findings = [
            {**f, "file": r.get("path", "")}
            for r in scan.get("files", [])
            for f in r.get("findings", [])
        ]

        def visible(label: str, status: str) -> bool:
            return visibility(registry, who, ids.get(label.split("@")[0], -1), status) != "hidden"

        picture = lineage_svg.render(
            registry.lineage_tree(view.model),
            [(p, parent_status[p.model]) for p in view.parents],
            visible=visible,
        )
        card = None
        readme = next((f for f in files if f.path == "README.md"), None)
        if seen != "down" and readme is not None and store.blobs.exists(readme.sha256):
            with open(store.blobs.path(readme.sha256), "rb") as fh:
                card = fh.read(CARD_LIMIT).decode("utf-8", "replace")
        try:
            proof = registry.decision_proof(view.model)
        except RegistryError:
            proof = None
        number = view.model.rsplit("@", 1)[1]
        gate = gate_for(store, mid) if view.status == "gated" else None
        grant = None
        if gate is not None and who is not None:
            grant = next(iter(grants(store, full, user=who.user)), None)
        return page(
            request,
            "model.html",
            status_code=status_code,
            v=view,
            name=full,
            number=number,
            seen=seen,
            files=files if seen != "down" else [],
            findings=findings,
            audit=audit,
            attestation=att,
            attestation_json=json.dumps(json.loads(att.bundle), indent=2) if att else "",
            proof=proof,
            card=card,
            lineage=picture,
            history=history,
            watermarks=registry.watermarks(view.model),
            takedown=takedown,
            gate=gate,
            grant=grant,
            countries=countries() if gate and any(f.type == "country" for f in gate.fields) else [],
            manage=who is not None and who.role in STAFF,
            resolve=f"/{quote(ns)}/{quote(name)}/resolve/v{number}/",
            **{"notice": "", "form_error": "", **extra},
        )

    @ui.get("/models/{ns}/{name}", response_class=HTMLResponse)
    def model(request: Request, ns: str, name: str, v: int | None = None) -> HTMLResponse:
        return model_page(request, ns, name, v)

    def do_request(request: Request, form: FormData, ns: str, name: str) -> Response:
        who = _who(registry, request)
        if who is None:
            return RedirectResponse(f"/login?next=/models/{quote(ns)}/{quote(name)}", 303)
        full = f"{ns}/{name}"
        try:
            with store.engine.connect() as conn:
                mid = _model_ids(conn)[full]
            gate = gate_for(store, mid)
            answers: dict[str, Any] = {}
            for i, f in enumerate(gate.fields):
                value = form.get(f"field-{i}")
                if isinstance(value, str) and value.strip():
                    answers[f.label] = value
            request_access(store, full, who, answers, client=client_of(request))
        except (UsageError, KeyError) as exc:
            message = exc.message if isinstance(exc, UsageError) else f"no model {full}"
            return model_page(request, ns, name, None, status_code=400, form_error=message)
        return RedirectResponse(f"/models/{quote(ns)}/{quote(name)}#access", 303)

    @ui.post("/models/{ns}/{name}/request")
    async def request_post(request: Request, ns: str, name: str) -> Response:
        return await posted(request, lambda r, f: do_request(r, f, ns, name))

    def do_takedown(request: Request, form: FormData, ns: str, name: str, down: bool) -> Response:
        who = signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        ref = f"{ns}/{name}@{_form_value(form, 'v')}" if _form_value(form, "v") else f"{ns}/{name}"
        reason = _form_value(form, "reason")
        try:
            if down:
                view = registry.takedown(ref, reason=reason, actor=who.user)
            else:
                view = registry.reinstate(ref, reason=reason, actor=who.user)
        except (UsageError, RegistryError) as exc:
            return error(request, 400, "Not done", exc.message)
        record(
            store,
            who.user,
            "model.takedown" if down else "model.reinstate",
            view.model,
            client=client_of(request),
            reason=reason,
        )
        back = _safe_next(_form_value(form, "back")) if _form_value(form, "back") else None
        number = view.model.rsplit("@", 1)[1]
        return RedirectResponse(back or f"/models/{quote(ns)}/{quote(name)}?v={number}", 303)

    @ui.post("/models/{ns}/{name}/takedown")
    async def takedown_post(request: Request, ns: str, name: str) -> Response:
        return await posted(request, lambda r, f: do_takedown(r, f, ns, name, True))

    @ui.post("/models/{ns}/{name}/reinstate")
    async def reinstate_post(request: Request, ns: str, name: str) -> Response:
        return await posted(request, lambda r, f: do_takedown(r, f, ns, name, False))

    def do_release(request: Request, form: FormData, ns: str, name: str) -> Response:
        who = signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        ref = f"{ns}/{name}@{_form_value(form, 'v')}" if _form_value(form, "v") else f"{ns}/{name}"
        reason = _form_value(form, "reason")
        try:
            view = registry.release(ref, reason=reason, actor=who.user)
        except (UsageError, RegistryError) as exc:
            return error(request, 400, "Not released", exc.message)
        record(
            store, who.user, "model.release", view.model, client=client_of(request), reason=reason
        )
        back = _safe_next(_form_value(form, "back")) if _form_value(form, "back") else None
        number = view.model.rsplit("@", 1)[1]
        return RedirectResponse(back or f"/models/{quote(ns)}/{quote(name)}?v={number}", 303)

    @ui.post("/models/{ns}/{name}/release")
    async def release_post(request: Request, ns: str, name: str) -> Response:
        return await posted(request, lambda r, f: do_release(r, f, ns, name))

    # -- uploads -----------------------------------------------------------------------
    @ui.get("/upload", response_class=HTMLResponse)
    def upload(request: Request) -> Response:
        who = signed_in(request, UPLOADERS)
        if not isinstance(who, Principal):
            return who
        with store.engine.connect() as conn:
            owned = sorted(
                {who.user}
                | {
                    r.namespace
                    for r in conn.execute(select(schema.namespaces))
                    if r.org in who.orgs or who.role == "admin"
                }
            )
        return page(request, "upload.html", namespaces=owned, tiers=ACCESS)

    # -- review ------------------------------------------------------------------------
    @ui.get("/review", response_class=HTMLResponse)
    def review(request: Request) -> Response:
        who = signed_in(request, (*STAFF, "publisher"))
        if not isinstance(who, Principal):
            return who
        return RedirectResponse("/review/quarantine" if who.staff else "/review/requests", 303)

    @ui.get("/review/quarantine", response_class=HTMLResponse)
    def quarantine(request: Request) -> Response:
        who = signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        all_versions = registry.versions()
        held = [v for v in all_versions if v.status == "quarantined"]
        down = [v for v in all_versions if v.status in ("taken_down", "blocked")]
        with store.engine.connect() as conn:
            why = {v.model: takedown_of(conn, v.model) for v in down}
        return page(request, "quarantine.html", held=held, down=down, why=why)

    def takedown_of(conn: Connection, label: str) -> Any:
        """The latest takedown row of a version (who, why, when, log index), if any."""
        return conn.execute(
            select(schema.takedowns)
            .where(
                and_(
                    schema.takedowns.c.version_id == registry._version_id(conn, label),
                    schema.takedowns.c.action == "takedown",
                )
            )
            .order_by(schema.takedowns.c.id.desc())
            .limit(1)
        ).first()

    def pending_for(who: Principal) -> list[Any]:
        with store.engine.connect() as conn:
            ids = _model_ids(conn)
        return [g for g in grants(store, state="pending") if may_manage(store, who, ids[g.model])]

    @ui.get("/review/requests", response_class=HTMLResponse)
    def requests(request: Request) -> Response:
        who = signed_in(request, (*STAFF, "publisher"))
        if not isinstance(who, Principal):
            return who
        with store.engine.connect() as conn:
            ids = _model_ids(conn)
        decided = [
            g
            for g in grants(store)
            if g.state != "pending" and may_manage(store, who, ids[g.model])
        ][-20:]
        return page(
            request, "requests.html", pending=pending_for(who), decided=list(reversed(decided))
        )

    def do_decide(request: Request, form: FormData) -> Response:
        who = signed_in(request, (*STAFF, "publisher"))
        if not isinstance(who, Principal):
            return who
        model_name, user = _form_value(form, "model"), _form_value(form, "user")
        decision, reason = _form_value(form, "decision"), _form_value(form, "reason")
        with store.engine.connect() as conn:
            mid = _model_ids(conn).get(model_name)
        if mid is None or not may_manage(store, who, mid):
            return error(
                request, 403, "Not allowed", f"You do not manage requests for {model_name}."
            )
        if decision not in ("accepted", "rejected"):
            return error(request, 400, "Not done", "Choose accept or reject.")
        try:
            set_grant(
                store,
                model_name,
                user,
                decision,
                reason=reason or None,
                actor=who.user,
                client=client_of(request),
            )
        except UsageError as exc:
            return error(request, 400, "Not done", exc.message)
        return RedirectResponse("/review/requests", 303)

    @ui.post("/review/requests")
    async def decide_post(request: Request) -> Response:
        return await posted(request, do_decide)

    @ui.get("/review/requests/{ns}/{name}.csv")
    def requests_csv(request: Request, ns: str, name: str) -> Response:
        who = signed_in(request, (*STAFF, "publisher"))
        if not isinstance(who, Principal):
            return who
        with store.engine.connect() as conn:
            mid = _model_ids(conn).get(f"{ns}/{name}")
        if mid is None or not may_manage(store, who, mid):
            return not_found(request, f"{ns}/{name}")
        record(store, who.user, "access.export", f"{ns}/{name}", client=client_of(request))
        return Response(
            access_report(store, f"{ns}/{name}"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-access.csv"'},
        )

    # -- the transparency log ---------------------------------------------------------
    @ui.get("/log", response_class=HTMLResponse)
    def log(request: Request, page_no: int = 0) -> HTMLResponse:
        size = store.log.size()
        note = store.log.checkpoint(store.signer, origin=LOG_ORIGIN) if size else ""
        pages = max(1, -(-size // PAGE))
        page_no = min(max(page_no, 0), pages - 1)
        stop = size - page_no * PAGE
        entries = []
        for e in store.log.entries(max(0, stop - PAGE), stop):
            body = json.loads(e.leaf).get("body", {})
            summary = ", ".join(
                f"{k}={body[k]}" for k in ("model", "action", "cause", "key_id") if k in body
            )
            entries.append(
                {
                    "index": e.index,
                    "kind": e.kind,
                    "created_at": e.created_at,
                    "summary": summary or e.kind,
                }
            )
        return page(
            request,
            "log.html",
            size=size,
            checkpoint=note,
            entries=list(reversed(entries)),
            page_no=page_no,
            pages=pages,
        )

    @ui.get("/log/{index}", response_class=HTMLResponse)
    def log_entry(request: Request, index: int) -> HTMLResponse:
        try:
            entry = store.log.entry(index)
        except RegistryError:
            return error(request, 404, "Not found", f"There is no log entry {index}.")
        note = store.log.checkpoint(store.signer, origin=LOG_ORIGIN)
        size = int(note.split("\n")[1])
        proof = store.log.inclusion_proof(index, size)
        verifier = KeyVerifier(store.signer.public_key, store.signer.key_id)
        try:
            verify_entry_offline(entry.leaf, index, proof, note, verifier)
            verified = "the proof verifies against the signed checkpoint"
        except WeightwatchError as exc:
            verified = f"the proof does NOT verify: {exc.message}"
        try:
            leaf = json.dumps(json.loads(entry.leaf), indent=2, sort_keys=True)
        except ValueError:
            leaf = entry.leaf.decode("utf-8", "replace")
        return page(
            request,
            "log_entry.html",
            entry=entry,
            leaf=leaf,
            leaf_hash=entry.leaf_hash.hex(),
            proof=[h.hex() for h in proof],
            checkpoint=note,
            size=size,
            verified=verified,
        )

    # -- watermark detection ------------------------------------------------------------
    @ui.get("/watermark", response_class=HTMLResponse)
    def watermark(request: Request) -> Response:
        who = signed_in(request)
        if not isinstance(who, Principal):
            return who
        return page(
            request,
            "watermark.html",
            configured=watermark_master is not None,
            result=None,
            models=[],
            form={"key_ids": "", "token_ids": "", "windowed": False},
            error_message="",
        )

    def do_detect(request: Request, form: FormData) -> Response:
        who = signed_in(request)
        if not isinstance(who, Principal):
            return who
        values = {
            "key_ids": _form_value(form, "key_ids"),
            "token_ids": _form_value(form, "token_ids"),
            "windowed": form.get("windowed") == "on",
        }
        result, models, message, code = detect(who, values)
        return page(
            request,
            "watermark.html",
            status_code=code,
            configured=watermark_master is not None,
            result=result,
            models=models,
            form=values,
            error_message=message,
        )

    def detect(who: Principal, values: dict[str, Any]) -> tuple[Any, list[str], str, int]:
        from weightwatch.watermark.deployments import (
            KeyRing,
            WatermarkDeployment,
            detect_by_key_id,
        )
        from weightwatch.watermark.keys import MasterSecret
        from weightwatch.watermark.windows import DEFAULT_WINDOWS

        if watermark_master is None:
            return None, [], "This server has no watermark master secret configured.", 503
        key_ids = [k for k in re.split(r"[\s,]+", values["key_ids"]) if k][:64]
        try:
            tokens = [int(t) for t in re.split(r"[\s,]+", values["token_ids"]) if t]
        except ValueError:
            return None, [], "Token ids must be whole numbers separated by commas or spaces.", 400
        if not key_ids or not tokens or len(tokens) > 100_000:
            return None, [], "Give at least one key id and 1 to 100,000 token ids.", 400
        if not limiter.allow(who.user):
            return None, [], "Rate limit reached; try again in a little while.", 429
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(schema.watermarks.c.record).where(schema.watermarks.c.key_id.in_(key_ids))
            ).all()
        deployments = [WatermarkDeployment.model_validate_json(r[0]) for r in rows]
        missing = sorted(set(key_ids) - {d.key_id for d in deployments})
        if missing:
            return None, [], f"No registered deployment has key id {missing[0]}.", 404
        try:
            result = detect_by_key_id(
                tokens,
                keyring=KeyRing(MasterSecret.load(watermark_master), deployments),
                key_ids=key_ids,
                windows=DEFAULT_WINDOWS if values["windowed"] else None,
            )
        except WeightwatchError as exc:
            return None, [], exc.diagnostics(), 400
        record(store, who.user, "watermark.detect", ",".join(key_ids), tokens=len(tokens))
        return result, sorted({registry.version_for_key(k) for k in key_ids}), "", 200

    @ui.post("/watermark")
    async def watermark_post(request: Request) -> Response:
        return await posted(request, do_detect)

    @ui.get("/account", response_class=HTMLResponse)
    def account(request: Request) -> Response:
        who = signed_in(request)
        if not isinstance(who, Principal):
            return who
        return page(
            request,
            "account.html",
            user=get_user(store, who.user),
            mine=grants(store, user=who.user),
        )

    return ui


__all__ = ["error_page", "render", "router", "visibility"]
