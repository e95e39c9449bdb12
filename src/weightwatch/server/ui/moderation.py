"""Moderation by staff: taking a version down, reinstating it, releasing it from
quarantine. The registry records each as an audit event (``model.takedown``,
``model.reinstate``, ``model.release``), whatever the caller."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry.access import Principal
from weightwatch.server.auth import client_of
from weightwatch.server.ui.common import STAFF, Site, form_value, safe_next


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/models/{ns}/{name}/takedown``, ``…/reinstate`` and ``…/release`` (forms)."""
    registry = site.registry

    def do_takedown(request: Request, form: FormData, ns: str, name: str, down: bool) -> Response:
        who = site.signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        ref = f"{ns}/{name}@{form_value(form, 'v')}" if form_value(form, "v") else f"{ns}/{name}"
        reason = form_value(form, "reason")
        act = registry.takedown if down else registry.reinstate
        try:
            view = act(ref, reason=reason, actor=who.user, client=client_of(request))
        except (UsageError, RegistryError) as exc:
            return site.error(request, 400, "Not done", exc.message)
        back = safe_next(form_value(form, "back")) if form_value(form, "back") else None
        number = view.model.rsplit("@", 1)[1]
        return RedirectResponse(back or f"/models/{quote(ns)}/{quote(name)}?v={number}", 303)

    @ui.post("/models/{ns}/{name}/takedown")
    async def takedown_post(request: Request, ns: str, name: str) -> Response:
        return await site.posted(request, lambda r, f: do_takedown(r, f, ns, name, True))

    @ui.post("/models/{ns}/{name}/reinstate")
    async def reinstate_post(request: Request, ns: str, name: str) -> Response:
        return await site.posted(request, lambda r, f: do_takedown(r, f, ns, name, False))

    def do_release(request: Request, form: FormData, ns: str, name: str) -> Response:
        who = site.signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        ref = f"{ns}/{name}@{form_value(form, 'v')}" if form_value(form, "v") else f"{ns}/{name}"
        reason = form_value(form, "reason")
        try:
            view = registry.release(ref, reason=reason, actor=who.user, client=client_of(request))
        except (UsageError, RegistryError) as exc:
            return site.error(request, 400, "Not released", exc.message)
        back = safe_next(form_value(form, "back")) if form_value(form, "back") else None
        number = view.model.rsplit("@", 1)[1]
        return RedirectResponse(back or f"/models/{quote(ns)}/{quote(name)}?v={number}", 303)

    @ui.post("/models/{ns}/{name}/release")
    async def release_post(request: Request, ns: str, name: str) -> Response:
        return await site.posted(request, lambda r, f: do_release(r, f, ns, name))
