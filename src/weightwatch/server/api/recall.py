"""Recall notices and webhooks: what a signed-in account downloaded that is now
withdrawn, a version's whole recall list (staff), and the webhooks an account or an
organisation registered, with their delivery logs. The registry decides who is told
what (``registry.notify``); these routes only map it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from weightwatch.registry.access import Principal
from weightwatch.registry.notify import Hook, add_hook, delete_hook, deliveries, hooks_of
from weightwatch.registry.recall import Notice, RecallReport
from weightwatch.registry.webhooks import Delivery
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import WebhookCreated, WebhookRequest


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry = ctx.registry

    @api.get("/recall", response_model=list[Notice], tags=["recall"])
    def my_notices(who: Principal = ctx.signed_in) -> list[Notice]:
        """Versions you were served that are now taken down, blocked or quarantined."""
        return registry.notices(who.user)

    @api.get(
        "/models/{ns}/{name}/versions/{n}/recall", response_model=RecallReport, tags=["recall"]
    )
    def recall_list(ns: str, name: str, n: int, who: Principal = ctx.staff) -> RecallReport:
        """Every account and API token served this version or a descendant (staff)."""
        return registry.recall(ctx.version(who, ns, name, n).label)

    @api.post("/webhooks", response_model=WebhookCreated, status_code=201, tags=["webhooks"])
    def create_webhook(body: WebhookRequest, who: Principal = ctx.signed_in) -> WebhookCreated:
        """Register an HTTP(S) endpoint for signed events; the secret is shown only now."""
        hook, secret = add_hook(registry.store, who, body.url, org=body.org)
        return WebhookCreated(
            id=hook.id, owner_kind=hook.owner_kind, owner=hook.owner, url=hook.url, secret=secret
        )

    @api.get("/webhooks", response_model=list[Hook], tags=["webhooks"])
    def list_webhooks(who: Principal = ctx.signed_in) -> list[Hook]:
        """Your webhooks and your organisations' (staff: all)."""
        return hooks_of(registry.store, who)

    @api.delete("/webhooks/{hook_id}", status_code=204, tags=["webhooks"])
    def remove_webhook(hook_id: int, who: Principal = ctx.signed_in) -> Response:
        delete_hook(registry.store, who, hook_id)
        return Response(status_code=204)

    @api.get("/webhooks/{hook_id}/deliveries", response_model=list[Delivery], tags=["webhooks"])
    def webhook_log(hook_id: int, who: Principal = ctx.signed_in) -> list[Delivery]:
        """Every event sent to the hook, with each attempt's outcome."""
        return deliveries(registry.store, who, hook_id)
