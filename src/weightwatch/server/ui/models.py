"""The models list (search, a page at a time), a model's page (decision, findings, files,
card, lineage picture, attestation and log proof, versions, takedown) and asking for
access to a gated model."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, select
from starlette.datastructures import FormData

from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import schema
from weightwatch.registry.access import gate_for, grants, request_access
from weightwatch.registry.gates import countries
from weightwatch.registry.pipeline import report
from weightwatch.server import lineage_svg
from weightwatch.server import ui as package
from weightwatch.server.auth import client_of
from weightwatch.server.ui.common import STAFF, Site, model_id, visibility
from weightwatch.server.ui.moderation import takedown_of

CARD_LIMIT = 64 << 10  # bytes of a model card shown


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/`` (the models list), ``/models/{ns}/{name}`` and its access-request form."""
    registry, store = site.registry, site.store

    @ui.get("/", response_class=HTMLResponse)
    def models(request: Request, q: str = "", p: int = 1) -> HTMLResponse:
        """The newest version of each model the caller may see, by name, a page at a time
        (light rows for all, full views only for the page shown)."""
        who = site.who(request)
        size = package.PAGE_SIZE  # read per request: the package's setting (tests shrink it)
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
                if (p - 1) * size < total <= p * size:
                    shown.append(int(r.id))
            rows = [registry._view(conn, vid) for vid in shown]
        pages = max(1, -(-total // size))
        return site.page(request, "models.html", rows=rows, q=q, total=total, p=p, pages=pages)

    def model_page(
        request: Request, ns: str, name: str, v: int | None, *, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        who = site.who(request)
        full = f"{ns}/{name}"
        ref = f"{full}@{v}" if v else full
        with store.engine.connect() as conn:
            try:
                vid = registry._version_id(conn, ref)
            except (RegistryError, UsageError):
                return site.not_found(request, ref)
            view = registry._view(conn, vid)
            mid = int(model_id(conn, full) or -1)
            ids = {full: mid}  # and, as the lineage picture asks, its relatives' ids
            seen = visibility(registry, who, mid, view.status)
            if seen == "hidden":
                return site.not_found(request, ref)
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
            takedown = (
                takedown_of(registry, conn, view.model) if view.status == "taken_down" else None
            )
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
            name = label.split("@")[0]
            if name not in ids:
                with store.engine.connect() as conn:
                    ids[name] = model_id(conn, name) or -1
            return visibility(registry, who, ids[name], status) != "hidden"

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
        return site.page(
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
        who = site.who(request)
        if who is None:
            return RedirectResponse(f"/login?next=/models/{quote(ns)}/{quote(name)}", 303)
        full = f"{ns}/{name}"
        try:
            with store.engine.connect() as conn:
                mid = model_id(conn, full)
            if mid is None:
                raise KeyError(full)
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
        return await site.posted(request, lambda r, f: do_request(r, f, ns, name))
