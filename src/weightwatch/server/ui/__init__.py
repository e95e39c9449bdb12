"""Server-rendered pages: models with status and tier badges, a model page (decision,
findings, files, card, lineage picture, attestation and log proof, access requests,
takedown, release from quarantine), sign-in, the upload page, reviewer queues, the
transparency-log browser and a watermark detection form.

Templates are Jinja2 with autoescaping on: every name, reason, answer and card string
is data from uploads and is escaped, never rendered as markup (the card is shown as
text). What a page shows of a version is the registry's one visibility decision
(``registry.visibility``, mapped by ``Site.seen``); a version the caller may not see is a
404 page. Every POST form carries the session's CSRF token, checked by
``auth.check_csrf``.

This package owns the pages; each module adds the routes of what it serves:
``account`` (sign-in, sign-out, the account page), ``models`` (the list, a model's page,
access requests), ``moderation`` (takedown, reinstate, release), ``upload``, ``review``
(queues), ``log`` (the transparency log) and ``watermark``; ``common`` holds what they
share (rendering, visibility, CSRF-checked forms).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from weightwatch.registry import Registry
from weightwatch.server.ui import account, log, models, moderation, review, upload, watermark
from weightwatch.server.ui.common import PAGE_SIZE, Site, error_page, render


def router(
    registry: Registry, *, watermark_master: Path | None = None, page_size: int = PAGE_SIZE
) -> APIRouter:
    """The pages over ``registry``; ``watermark_master`` enables the detection form."""
    ui = APIRouter(include_in_schema=False)
    site = Site(registry, page_size)
    account.add_routes(ui, site)
    models.add_routes(ui, site)
    moderation.add_routes(ui, site)
    upload.add_routes(ui, site)
    review.add_routes(ui, site)
    log.add_routes(ui, site)
    watermark.add_routes(ui, site, watermark_master=watermark_master)
    return ui


__all__ = ["PAGE_SIZE", "error_page", "render", "router"]
