"""Tiered access: a model's settings, its gate, access requests and their report."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from weightwatch.errors import NotFound
from weightwatch.registry.access import (
    Grant,
    Principal,
    access_report,
    gate_for,
    grant_state,
    grants,
    may_manage,
    model_access,
    set_grant,
    set_model_access,
)
from weightwatch.registry.states import Role, Status
from weightwatch.registry.store import parse_name
from weightwatch.server import auth
from weightwatch.server.api.common import Api, not_found
from weightwatch.server.api_models import (
    AccessRequest,
    AccessSettings,
    AccessSettingsView,
    Decision,
    GateView,
    GrantView,
)


def grant_view(g: Grant) -> GrantView:
    return GrantView(**g.__dict__)


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry, store = ctx.registry, ctx.store

    @api.put("/models/{ns}/{name}/access", response_model=AccessSettingsView, tags=["access"])
    def settings(
        ns: str, name: str, body: AccessSettings, request: Request, who: Principal = ctx.signed_in
    ) -> AccessSettingsView:
        """Approval mode of the gate and organisations of a restricted model (managers)."""
        ctx.managed(who, ns, name)
        ma = set_model_access(
            store,
            f"{ns}/{name}",
            gate_mode=body.gate_mode,
            allowed_orgs=body.allowed_orgs,
            actor=who.user,
            client=auth.client_of(request),
        )
        return AccessSettingsView(
            model=ma.name,
            owner_org=ma.owner_org,
            gate_mode=ma.gate_mode,
            allowed_orgs=list(ma.allowed_orgs),
        )

    @api.get("/models/{ns}/{name}/gate", response_model=GateView, tags=["access"])
    def gate(ns: str, name: str, who: Principal | None = ctx.anyone) -> GateView:
        """The form to fill in to request access (the card's ``extra_gated_*`` fields)."""
        r = ctx.version(who, ns, name)
        return GateView(
            model=r.model,
            gated=r.status == Status.GATED,
            mode=model_access(store, r.model_id).gate_mode,
            gate=gate_for(store, r.model_id),
            request_state=grant_state(store, r.model_id, who.user) if who else None,
        )

    @api.post(
        "/models/{ns}/{name}/access-requests",
        response_model=GrantView,
        status_code=201,
        tags=["access"],
    )
    def ask(
        ns: str, name: str, body: AccessRequest, request: Request, who: Principal = ctx.signed_in
    ) -> GrantView:
        """Request access to a gated model with the gate's answers: accepted at once by an
        ``auto`` gate, else ``pending`` until a manager decides."""
        try:  # the registry's one check, shared with the web form
            g = registry.request_access(who, ns, name, body.answers, client=auth.client_of(request))
        except NotFound:
            raise not_found(f"{ns}/{name}") from None
        return grant_view(g)

    @api.get("/access-requests", response_model=list[GrantView], tags=["access"])
    def list_requests(
        state: str | None = None, model: str | None = None, who: Principal = ctx.signed_in
    ) -> list[GrantView]:
        """Requests for the models you manage (all of them for auditors), and your own."""
        if model is not None:
            ns, name = parse_name(model)
            ctx.version(who, ns, name)
        ids = {r.model: r.model_id for r in registry.catalogue()}
        return [
            grant_view(g)
            for g in grants(store, model, state=state)
            if g.user == who.user
            or who.role == Role.AUDITOR
            or may_manage(store, who, ids[g.model])
        ]

    @api.post(
        "/models/{ns}/{name}/access-requests/{user}", response_model=GrantView, tags=["access"]
    )
    def decide(
        ns: str,
        name: str,
        user: str,
        body: Decision,
        request: Request,
        who: Principal = ctx.signed_in,
    ) -> GrantView:
        """Accept or reject (with a reason) a user's request; managers of the model only."""
        ctx.managed(who, ns, name)
        set_grant(
            store,
            f"{ns}/{name}",
            user,
            body.state,
            reason=body.reason,
            actor=who.user,
            client=auth.client_of(request),
        )
        return grant_view(grants(store, f"{ns}/{name}", user=user)[0])

    @api.get(
        "/models/{ns}/{name}/access-report.csv",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/csv": {}}}},
        tags=["access"],
    )
    def report_csv(ns: str, name: str, who: Principal = ctx.signed_in) -> Response:
        """Every request with its answers, as CSV (managers of the model and auditors)."""
        if not registry.versions_of(ns, name):
            raise not_found(f"{ns}/{name}")
        if who.role != Role.AUDITOR:
            ctx.managed(who, ns, name)
        return Response(
            access_report(store, f"{ns}/{name}"),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}-access.csv"'},
        )
