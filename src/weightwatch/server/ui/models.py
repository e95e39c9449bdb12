"""The models list (search, a page at a time), a model's page (decision, findings, files,
card, lineage picture, attestation and log proof, versions, takedown) and asking for
access to a gated model."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from weightwatch.errors import NotFound, RegistryError, UsageError
from weightwatch.lineage.relation import RELATIONS as LINEAGE_RELATIONS
from weightwatch.registry.access import gate_for, grants
from weightwatch.registry.gates import countries
from weightwatch.registry.registry import ACCESS
from weightwatch.registry.states import Status, applied_access, values
from weightwatch.server import card_html, lineage_svg
from weightwatch.server.auth import client_of
from weightwatch.server.bounds import in_range
from weightwatch.server.ui.common import Site
from weightwatch.server.ui.review import last_takedown

CARD_LIMIT = 64 << 10  # bytes of a model card shown


FILTER_STATUSES = tuple(
    s for s in values(Status) if s not in (Status.PENDING, Status.FAILED)
)  # what a complete version can be
RELATIONS = (*(r for r in LINEAGE_RELATIONS if r != "unrelated"), "none")  # none: no parent


def shown_path(path: str, version_id: int) -> str:
    """A scanned file's path inside the model (the scanner names it under the version's
    work folder, ``<id>/...``, which is the registry's business, not the reader's)."""
    head, _, rest = path.partition("/")
    return rest if rest and head == str(version_id) else path


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/`` (the models list), ``/models/{ns}/{name}`` and its access-request form."""
    registry, store = site.registry, site.store

    @ui.get("/", response_class=HTMLResponse)
    def models(
        request: Request,
        q: str = "",
        p: int = 1,
        status: str = "",
        access: str = "",
        licence: str = "",
        relation: str = "",
    ) -> HTMLResponse:
        """The newest version of each model the caller may see, by name, filtered, a page
        at a time (light rows for all, full views only for the page shown)."""
        who = site.who(request)
        size = site.page_size
        p = max(1, p)
        for key, value, allowed in (
            ("status", status, FILTER_STATUSES),
            ("access", access, ACCESS),
            ("relation", relation, RELATIONS),
        ):
            if value and value not in allowed:
                return site.error(
                    request, 422, "Unprocessable Entity",
                    f"{key}={value!r} is not one of: {', '.join(allowed)}.",
                )  # fmt: skip
        filters = {"status": status, "access": access, "licence": licence, "relation": relation}
        visible = registry.newest_visible(
            who, search=q or None, **{k: v or None for k, v in filters.items()}
        )
        shown = visible[(p - 1) * size : p * size]
        rows = registry.views([r.id for r in shown])
        ids = {r.id for r in shown}
        licences = registry.licences(ids)
        downloads = registry.download_counts(ids)
        extra = [
            {
                "licence": licences.get(r.id, ""),
                "downloads": downloads[r.id],
                "applied": applied_access(r.status),
            }
            for r in shown
        ]
        pages = max(1, -(-len(visible) // size))
        return site.page(
            request,
            "models.html",
            rows=list(zip(rows, extra, strict=True)),
            q=q,
            filters=filters,
            query={"q": q, **filters},
            choices={"status": FILTER_STATUSES, "access": ACCESS, "relation": RELATIONS},
            total=len(visible),
            p=p,
            pages=pages,
        )

    def model_page(
        request: Request, ns: str, name: str, v: int | None, *, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        who = site.who(request)
        full = f"{ns}/{name}"
        ref = f"{full}@{v}" if v else full
        if not in_range(v):
            return site.not_found(request, ref)
        try:
            row = registry.resolve(ns, name, v or None)
        except (RegistryError, UsageError):
            return site.not_found(request, ref)
        seen = site.seen(who, row)
        if seen == "hidden":
            return site.not_found(request, ref)
        vid = row.id
        view = registry.redacted(who, registry.view(vid))
        files = registry.files(vid)
        scan = registry.report(vid, "scan") or {}
        audit = registry.redacted(who, registry.report(vid, "audit"))
        att = registry.attestation(vid) if seen != "down" else None  # lists the files
        takedown = last_takedown(view) if view.status == Status.TAKEN_DOWN else None
        findings = [
            {**f, "file": shown_path(r.get("path", ""), vid)}
            for r in scan.get("files", [])
            for f in r.get("findings", [])
        ]
        graph = registry.lineage_graph(view.model, who)
        picture = lineage_svg.render(graph)
        card = None
        readme = next((f for f in files if f.path == "README.md"), None)
        if seen != "down" and readme is not None and store.blobs.exists(readme.sha256):
            text = store.blobs.read(readme.sha256, CARD_LIMIT)
            card = card_html.render(text.decode("utf-8", "replace"))
        numbers = [r for r in registry.versions_of(ns, name) if site.seen(who, r) != "hidden"]
        downloads = registry.download_counts({r.id for r in numbers})
        try:
            proof = registry.decision_proof(view.model)
        except RegistryError:
            proof = None
        number = view.model.rsplit("@", 1)[1]
        gate = gate_for(store, row.model_id) if view.status == Status.GATED else None
        grant = None
        if gate is not None and who is not None:
            grant = next(iter(grants(store, full, user=who.user)), None)
        recall_notice = (
            next((n for n in registry.notices(who.user) if n.version == view.model), None)
            if who is not None
            else None
        )
        recall = registry.recall(view.model) if who is not None and who.staff else None
        return site.page(
            request,
            "model.html",
            status_code=status_code,
            recall_notice=recall_notice,
            recall=recall if recall and recall.entries else None,
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
            history=[(r.number, r.status, downloads[r.id]) for r in numbers],
            downloads_total=downloads[vid],
            licence=registry.licences({vid}).get(vid, ""),
            applied=applied_access(view.status),
            graph=graph,
            watermarks=registry.watermarks(view.model),
            takedown=takedown,
            gate=gate,
            grant=grant,
            countries=countries() if gate and any(f.type == "country" for f in gate.fields) else [],
            manage=who is not None and who.staff,
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
        try:  # the registry's one check, shared with the API
            seen = registry.visible_versions(who, ns, name)
            gate = gate_for(store, seen[0].model_id) if seen else None
            answers: dict[str, Any] = {}
            for i, f in enumerate(gate.fields if gate else ()):
                value = form.get(f"field-{i}")
                if isinstance(value, str) and value.strip():
                    answers[f.label] = value
            registry.request_access(who, ns, name, answers, client=client_of(request))
        except NotFound:
            return site.not_found(request, f"{ns}/{name}")
        except (UsageError, RegistryError) as exc:
            code = 409 if isinstance(exc, RegistryError) else 400
            return model_page(request, ns, name, None, status_code=code, form_error=exc.message)
        return RedirectResponse(f"/models/{quote(ns)}/{quote(name)}#access", 303)

    @ui.post("/models/{ns}/{name}/request")
    async def request_post(request: Request, ns: str, name: str) -> Response:
        return await site.posted(request, lambda r, f: do_request(r, f, ns, name))
