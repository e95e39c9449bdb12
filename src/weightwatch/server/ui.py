"""Server-rendered pages: the model list with status badges and search, a model page
(decision and reasons, lineage, identity, files, history) and the transparency log.

Templates are Jinja2 with autoescaping on: every name, reason and card string in a page
is data from uploads and is escaped, never rendered as markup.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from weightwatch import __version__
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import Registry, schema
from weightwatch.registry.store import LOG_ORIGIN

HIDDEN = ("quarantined", "blocked", "failed")  # reviewers only (sign-in comes with sessions)

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
)


def _page(name: str, **ctx: object) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(version=__version__, **ctx))


def router(registry: Registry) -> APIRouter:
    ui = APIRouter()

    @ui.get("/", response_class=HTMLResponse)
    def models(q: str = "") -> HTMLResponse:
        latest: dict[str, object] = {}
        for v in registry.versions():
            if v.status not in HIDDEN:
                latest[v.model.split("@")[0]] = v  # versions come oldest first
        rows = [v for name, v in sorted(latest.items()) if q.lower() in name.lower()]
        return _page("models.html", rows=rows, q=q)

    @ui.get("/models/{ns}/{name}", response_class=HTMLResponse)
    def model(ns: str, name: str) -> HTMLResponse:
        try:
            v = registry.status(f"{ns}/{name}")
        except (RegistryError, UsageError):
            return _page("models.html", rows=[], q=f"{ns}/{name}")
        if v.status in HIDDEN:
            return _page("models.html", rows=[], q=f"{ns}/{name}")
        with registry.store.engine.connect() as conn:
            vid = registry._version_id(conn, v.model)
            files = conn.execute(
                select(schema.files)
                .where(schema.files.c.version_id == vid)
                .order_by(schema.files.c.path)
            ).all()
        return _page("model.html", v=v, files=files)

    @ui.get("/log", response_class=HTMLResponse)
    def log() -> HTMLResponse:
        store = registry.store
        size = store.log.size()
        note = store.log.checkpoint(store.signer, origin=LOG_ORIGIN) if size else ""
        entries = []
        for e in store.log.entries(max(0, size - 50), size):
            body = json.loads(e.leaf).get("body", {})
            summary = ", ".join(f"{k}={body[k]}" for k in ("model", "action", "cause") if k in body)
            entries.append(
                {
                    "index": e.index,
                    "kind": e.kind,
                    "created_at": e.created_at,
                    "summary": summary or e.kind,
                }
            )
        return _page("log.html", size=size, checkpoint=note, entries=list(reversed(entries)))

    return ui
