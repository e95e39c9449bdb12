"""The upload page: a model folder or tar sent from the browser (``static/upload.js``) to
the upload API, for namespaces the caller may publish to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from weightwatch.registry.access import Principal
from weightwatch.registry.registry import ACCESS
from weightwatch.registry.states import Role
from weightwatch.server.ui.common import UPLOADERS, Site


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/upload``."""

    @ui.get("/upload", response_class=HTMLResponse)
    def upload(request: Request) -> Response:
        who = site.signed_in(request, UPLOADERS)
        if not isinstance(who, Principal):
            return who
        owned = sorted(
            {who.user}
            | {
                ns
                for ns, org in site.registry.namespaces().items()
                if org in who.orgs or who.role == Role.ADMIN
            }
        )
        return site.page(request, "upload.html", namespaces=owned, tiers=ACCESS)
