"""The upload page: a model folder or tar sent from the browser (``static/upload.js``) to
the upload API, for namespaces the caller may publish to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from weightwatch.registry import schema
from weightwatch.registry.access import Principal
from weightwatch.registry.registry import ACCESS
from weightwatch.server.ui.common import UPLOADERS, Site


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/upload``."""
    store = site.store

    @ui.get("/upload", response_class=HTMLResponse)
    def upload(request: Request) -> Response:
        who = site.signed_in(request, UPLOADERS)
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
        return site.page(request, "upload.html", namespaces=owned, tiers=ACCESS)
