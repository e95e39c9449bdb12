"""Moderation by staff: takedowns, reinstatements and releases from quarantine. The
registry logs each (transparency log and action log) whoever calls it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from weightwatch.registry import VersionView
from weightwatch.registry.access import Principal
from weightwatch.server import auth
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import Reason


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry = ctx.registry

    def moderate(
        action: str, ns: str, name: str, n: int, body: Reason, request: Request, who: Principal
    ) -> VersionView:
        ref = ctx.version(who, ns, name, n).label
        act = {
            "takedown": registry.takedown,
            "reinstate": registry.reinstate,
            "release": registry.release,
        }[action]
        act(ref, reason=body.reason, actor=who.user, client=auth.client_of(request))
        return ctx.view(who, ctx.version(who, ns, name, n))

    @api.post(
        "/models/{ns}/{name}/versions/{n}/takedown", response_model=VersionView, tags=["takedowns"]
    )
    def takedown(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = ctx.staff
    ) -> VersionView:
        """Take a version down (logged with the reason); its descendants are re-decided."""
        return moderate("takedown", ns, name, n, body, request, who)

    @api.post(
        "/models/{ns}/{name}/versions/{n}/reinstate", response_model=VersionView, tags=["takedowns"]
    )
    def reinstate(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = ctx.staff
    ) -> VersionView:
        """Undo a takedown (logged with the reason); the version is decided afresh."""
        return moderate("reinstate", ns, name, n, body, request, who)

    @api.post(
        "/models/{ns}/{name}/versions/{n}/release", response_model=VersionView, tags=["takedowns"]
    )
    def release(
        ns: str, name: str, n: int, body: Reason, request: Request, who: Principal = ctx.staff
    ) -> VersionView:
        """Release a quarantined version after review (logged as a decision with the
        reason): what it was quarantined for stops counting; blocks and gates still apply,
        and a new quarantine reason holds it again. 409 unless it is quarantined."""
        return moderate("release", ns, name, n, body, request, who)
