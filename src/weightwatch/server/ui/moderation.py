"""Moderation by staff: taking a version down, reinstating it, releasing it from
quarantine. Each action is recorded as an audit event named as over the API
(``model.takedown``, ``model.reinstate``, ``model.release``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, and_, select
from starlette.datastructures import FormData

from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import Registry, schema
from weightwatch.registry.access import Principal
from weightwatch.registry.accounts import record
from weightwatch.server.auth import client_of
from weightwatch.server.ui.common import STAFF, Site, form_value, safe_next


def takedown_of(registry: Registry, conn: Connection, label: str) -> Any:
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


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/models/{ns}/{name}/takedown``, ``…/reinstate`` and ``…/release`` (forms)."""
    registry, store = site.registry, site.store

    def do_takedown(request: Request, form: FormData, ns: str, name: str, down: bool) -> Response:
        who = site.signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        ref = f"{ns}/{name}@{form_value(form, 'v')}" if form_value(form, "v") else f"{ns}/{name}"
        reason = form_value(form, "reason")
        try:
            if down:
                view = registry.takedown(ref, reason=reason, actor=who.user)
            else:
                view = registry.reinstate(ref, reason=reason, actor=who.user)
        except (UsageError, RegistryError) as exc:
            return site.error(request, 400, "Not done", exc.message)
        record(
            store,
            who.user,
            "model.takedown" if down else "model.reinstate",
            view.model,
            client=client_of(request),
            reason=reason,
        )
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
            view = registry.release(ref, reason=reason, actor=who.user)
        except (UsageError, RegistryError) as exc:
            return site.error(request, 400, "Not released", exc.message)
        record(
            store, who.user, "model.release", view.model, client=client_of(request), reason=reason
        )
        back = safe_next(form_value(form, "back")) if form_value(form, "back") else None
        number = view.model.rsplit("@", 1)[1]
        return RedirectResponse(back or f"/models/{quote(ns)}/{quote(name)}?v={number}", 303)

    @ui.post("/models/{ns}/{name}/release")
    async def release_post(request: Request, ns: str, name: str) -> Response:
        return await site.posted(request, lambda r, f: do_release(r, f, ns, name))
