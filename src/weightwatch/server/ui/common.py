"""What every page shares: the template environment and site layout, who the caller is,
what a page shows of a version, error pages, and posting a form with its CSRF token checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from weightwatch import __version__
from weightwatch.errors import AccessDenied
from weightwatch.registry import Registry, VersionRow
from weightwatch.registry.access import Principal
from weightwatch.registry.states import STAFF as STAFF_ROLES
from weightwatch.registry.states import UPLOADERS as UPLOADER_ROLES
from weightwatch.registry.store import Store
from weightwatch.server.auth import browser_session, check_csrf, principal

STAFF = tuple(sorted(STAFF_ROLES))
UPLOADERS = tuple(sorted(UPLOADER_ROLES))
PAGE_SIZE = 50  # models per list page

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent.parent / "templates")),
    autoescape=select_autoescape(["html"]),
)


def caller(registry: Registry, request: Request) -> Principal | None:
    """The signed-in caller, or ``None`` for anonymous."""
    try:
        return principal(registry.store, request)
    except AccessDenied:
        return None  # a bad token browses as anonymous; the API answers 401 instead


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def form_value(form: FormData, key: str) -> str:
    """A form field, stripped; ``""`` when absent or a file."""
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


def render(
    registry: Registry, request: Request, template: str, *, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    """A page of the site layout (navigation for the caller, the session's CSRF token)."""
    s = browser_session(registry.store, request)
    html = _env.get_template(template).render(
        version=__version__,
        who=caller(registry, request),
        csrf=s.csrf if s else "",
        path=request.url.path,
        **ctx,
    )
    headers = {"Retry-After": str(ctx["retry_after"])} if ctx.get("retry_after") else None
    return HTMLResponse(html, status_code=status_code, headers=headers)


def error_page(
    registry: Registry, request: Request, status_code: int, title: str, message: str
) -> HTMLResponse:
    """The site's error page (also for errors no page handled: unknown paths, bad query
    values)."""
    return render(
        registry, request, "error.html", status_code=status_code, title=title, message=message
    )


@dataclass(frozen=True)
class Site:
    """The pages' view of one registry: what each group of routes is handed."""

    registry: Registry
    page_size: int = PAGE_SIZE

    @property
    def store(self) -> Store:
        return self.registry.store

    def seen(self, who: Principal | None, version: VersionRow) -> str:
        """What a page shows of ``version`` to ``who`` (``Visibility.page``: hidden, down,
        full, gated or audit): the registry decides, the page only maps."""
        return self.registry.visibility(who, version).page

    def who(self, request: Request) -> Principal | None:
        return caller(self.registry, request)

    def page(
        self, request: Request, template: str, *, status_code: int = 200, **ctx: Any
    ) -> HTMLResponse:
        return render(self.registry, request, template, status_code=status_code, **ctx)

    def error(self, request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        return error_page(self.registry, request, status_code, title, message)

    def not_found(self, request: Request, what: str) -> HTMLResponse:
        return self.error(request, 404, "Not found", f"There is no model {what} you can see.")

    def signed_in(self, request: Request, roles: tuple[str, ...] = ()) -> Principal | Response:
        """The caller, a redirect to sign in, or a 403 page."""
        who = self.who(request)
        if who is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
        if roles and who.role not in roles:
            return self.error(
                request, 403, "Not allowed", f"This page needs the role {' or '.join(roles)}."
            )
        return who

    async def posted(
        self, request: Request, handle: Callable[[Request, FormData], Response]
    ) -> Response:
        """Read a form, check its CSRF token, and handle it in a worker thread."""
        form = await request.form()
        try:
            check_csrf(self.store, request, form_value(form, "csrf"))
        except HTTPException as exc:
            return self.error(request, exc.status_code, "Form expired", str(exc.detail))
        return await run_in_threadpool(handle, request, form)
