"""The registry's JSON API under ``/api/v1``, one module per resource: sessions and
tokens, administration, models and their reports, tiered access, moderation, the
transparency log and the audit logs.

Who sees what is the registry's one decision (``registry.visibility.visibility``); the
routes only map it: a version the caller may not know exists is a 404 (exactly like one
that does not exist), a record whose contents are withheld (a takedown) a 403. Errors
are ``{"error": "..."}``; see ``docs/server-api.md`` for the whole table.
"""

from __future__ import annotations

from fastapi import APIRouter

from weightwatch.registry import Registry
from weightwatch.server.api import (
    access,
    admin,
    audit_logs,
    bom,
    log,
    models,
    moderation,
    recall,
    recipients,
    sessions,
)
from weightwatch.server.api.common import Api
from weightwatch.server.api.sessions import RETRY_AFTER

RESOURCES = (sessions, admin, models, access, moderation, recall, log, audit_logs, bom, recipients)

__all__ = ["RETRY_AFTER", "router"]


def router(registry: Registry) -> APIRouter:
    """The API's routes over ``registry``."""
    api = APIRouter(prefix="/api/v1", tags=["registry"])
    ctx = Api(registry)
    for resource in RESOURCES:
        resource.add_routes(api, ctx)
    return api
