"""Review queues: quarantined, blocked and taken-down versions for staff, and access
requests to decide (or export as CSV) for those who manage a model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from weightwatch.errors import UsageError
from weightwatch.registry.access import Principal, access_report, grants, may_manage, set_grant
from weightwatch.registry.accounts import record
from weightwatch.registry.registry import ModerationView, VersionView
from weightwatch.registry.states import Moderation, Role, Status
from weightwatch.server.auth import client_of
from weightwatch.server.ui.common import STAFF, Site, form_value


def last_takedown(v: VersionView) -> ModerationView | None:
    """The latest takedown of a version (who, why, when, log index), if any."""
    downs = [m for m in v.moderation if m.action == Moderation.TAKEDOWN]
    return downs[-1] if downs else None


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/review``, ``/review/quarantine``, ``/review/requests`` and its CSV export."""
    registry, store = site.registry, site.store

    @ui.get("/review", response_class=HTMLResponse)
    def review(request: Request) -> Response:
        who = site.signed_in(request, (*STAFF, Role.PUBLISHER))
        if not isinstance(who, Principal):
            return who
        return RedirectResponse("/review/quarantine" if who.staff else "/review/requests", 303)

    @ui.get("/review/quarantine", response_class=HTMLResponse)
    def quarantine(request: Request) -> Response:
        who = site.signed_in(request, STAFF)
        if not isinstance(who, Principal):
            return who
        all_versions = registry.versions()
        held = [v for v in all_versions if v.status == Status.QUARANTINED]
        down = [v for v in all_versions if v.status in (Status.TAKEN_DOWN, Status.BLOCKED)]
        why = {v.model: last_takedown(v) for v in down}
        return site.page(request, "quarantine.html", held=held, down=down, why=why)

    def manages(who: Principal, model: str) -> bool:
        mid = registry.model_id(model)
        return mid is not None and may_manage(store, who, mid)

    def pending_for(who: Principal) -> list[Any]:
        return [g for g in grants(store, state="pending") if manages(who, g.model)]

    @ui.get("/review/requests", response_class=HTMLResponse)
    def requests(request: Request) -> Response:
        who = site.signed_in(request, (*STAFF, Role.PUBLISHER))
        if not isinstance(who, Principal):
            return who
        decided = [g for g in grants(store) if g.state != "pending" and manages(who, g.model)][-20:]
        return site.page(
            request, "requests.html", pending=pending_for(who), decided=list(reversed(decided))
        )

    def do_decide(request: Request, form: FormData) -> Response:
        who = site.signed_in(request, (*STAFF, Role.PUBLISHER))
        if not isinstance(who, Principal):
            return who
        model_name, user = form_value(form, "model"), form_value(form, "user")
        decision, reason = form_value(form, "decision"), form_value(form, "reason")
        if not manages(who, model_name):
            return site.error(
                request, 403, "Not allowed", f"You do not manage requests for {model_name}."
            )
        if decision not in ("accepted", "rejected"):
            return site.error(request, 400, "Not done", "Choose accept or reject.")
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
            return site.error(request, 400, "Not done", exc.message)
        return RedirectResponse("/review/requests", 303)

    @ui.post("/review/requests")
    async def decide_post(request: Request) -> Response:
        return await site.posted(request, do_decide)

    @ui.get("/review/requests/{ns}/{name}.csv")
    def requests_csv(request: Request, ns: str, name: str) -> Response:
        who = site.signed_in(request, (*STAFF, Role.PUBLISHER))
        if not isinstance(who, Principal):
            return who
        if not manages(who, f"{ns}/{name}"):
            return site.not_found(request, f"{ns}/{name}")
        record(store, who.user, "access.export", f"{ns}/{name}", client=client_of(request))
        return Response(
            access_report(store, f"{ns}/{name}"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-access.csv"'},
        )
