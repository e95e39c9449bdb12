"""Signing in and out (a session cookie; sign-in throttled by ``accounts.login``) and the
account page (the caller's profile and access requests)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from weightwatch.errors import AccessDenied, TooManyAttempts, UsageError
from weightwatch.registry.access import Principal, grants
from weightwatch.registry.accounts import get_user, login, logout, record
from weightwatch.registry.signin import spell_wait
from weightwatch.server.auth import COOKIE, browser_session, client_of, signin_policy
from weightwatch.server.ui.common import Site, form_value, safe_next


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/login``, ``/logout`` and ``/account``."""
    store = site.store

    @ui.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return site.page(request, "login.html", next=safe_next(next), error_message="", user="")

    def do_login(request: Request, form: FormData) -> Response:
        # no account name is longer than 100 characters; the cap keeps the event row in bounds
        user, password = form_value(form, "user")[:200], str(form.get("password") or "")
        nxt = safe_next(form_value(form, "next"))
        try:  # login() records the attempt (never the password) and throttles guessing
            cookie = login(
                store, user, password, client=client_of(request), policy=signin_policy(request)
            )
        except TooManyAttempts as exc:
            wait = exc.retry_after
            message = (
                f"Too many failed sign-ins for {user} from here: sign-in is paused. "
                f"Try again in {spell_wait(wait)}."
            )
            return site.page(
                request,
                "login.html",
                status_code=429,
                next=nxt,
                error_message=message,
                user=user,
                retry_after=wait,
            )
        except (AccessDenied, UsageError) as exc:
            return site.page(
                request,
                "login.html",
                status_code=401,
                next=nxt,
                error_message=exc.message,
                user=user,
            )
        old = request.cookies.get(COOKIE)
        if old:
            logout(store, old)
        resp = RedirectResponse(nxt, 303)
        resp.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return resp

    @ui.post("/login")
    async def login_post(request: Request) -> Response:
        return await site.posted(request, do_login)

    def do_logout(request: Request, form: FormData) -> Response:
        s = browser_session(store, request)
        cookie = request.cookies.get(COOKIE)
        if cookie:
            logout(store, cookie)
        if s is not None:
            record(store, s.user, "logout", s.user, client=client_of(request))
        resp = RedirectResponse("/", 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @ui.post("/logout")
    async def logout_post(request: Request) -> Response:
        return await site.posted(request, do_logout)

    @ui.get("/account", response_class=HTMLResponse)
    def account(request: Request) -> Response:
        who = site.signed_in(request)
        if not isinstance(who, Principal):
            return who
        return site.page(
            request,
            "account.html",
            user=get_user(store, who.user),
            mine=grants(store, user=who.user),
            notices=site.registry.notices(who.user),
        )
