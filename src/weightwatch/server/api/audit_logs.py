"""The audit logs, for admins and auditors: downloads (served and denied) and actions."""

from __future__ import annotations

from fastapi import APIRouter, Query

from weightwatch.registry import accounts
from weightwatch.registry.access import Principal
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import DownloadRow, EventRow
from weightwatch.server.bounds import ROW_MAX

AUDIT_PAGE = 500


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry, store = ctx.registry, ctx.store

    @api.get("/audit/downloads", response_model=list[DownloadRow], tags=["audit"])
    def downloads(
        limit: int = Query(100, ge=1, le=AUDIT_PAGE),
        before: int | None = Query(None, ge=1, le=ROW_MAX),
        user: str | None = None,
        who: Principal = ctx.overseer,
    ) -> list[DownloadRow]:
        """File requests, served and denied, newest first; page with ``before`` (an id)."""
        return [
            DownloadRow(
                id=r.id,
                user=r.user,
                model=f"{r.namespace}/{r.name}@{r.number}",
                path=r.path,
                client=r.client,
                outcome=r.outcome,
                created_at=r.created_at,
            )
            for r in registry.downloads(limit=limit, before=before, user=user)
        ]

    @api.get("/audit/events", response_model=list[EventRow], tags=["audit"])
    def audit_events(
        limit: int = Query(100, ge=1, le=AUDIT_PAGE),
        before: int | None = Query(None, ge=1, le=ROW_MAX),
        who: Principal = ctx.overseer,
    ) -> list[EventRow]:
        """Actions (sign-ins, tokens, access decisions, takedowns, settings), newest first."""
        return [EventRow(**e.__dict__) for e in accounts.events(store, limit=limit, before=before)]
