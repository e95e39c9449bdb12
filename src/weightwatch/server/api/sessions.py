"""Sign-in, sign-out, who am I, and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from weightwatch.errors import AccessDenied, TooManyAttempts, UsageError
from weightwatch.registry import accounts
from weightwatch.registry.access import Principal, create_token, principal_for, revoke_tokens
from weightwatch.server import auth
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import LoginRequest, LoginResult, Me, Revoked, TokenResult

RETRY_AFTER = str(int(accounts.FAILURE_WINDOW.total_seconds()))  # after throttled sign-ins


def add_routes(api: APIRouter, ctx: Api) -> None:
    store = ctx.store

    @api.post("/login", response_model=LoginResult, tags=["auth"])
    def login(body: LoginRequest, request: Request, response: Response) -> LoginResult:
        """Sign in: sets the HttpOnly session cookie and returns the session's CSRF token."""
        try:  # login() records the attempt (never the password) and throttles guessing
            cookie = accounts.login(
                store,
                body.user,
                body.password,
                client=auth.client_of(request),
                policy=auth.signin_policy(request),
            )
            who = principal_for(store, body.user)
        except TooManyAttempts as exc:
            raise HTTPException(429, exc.message, {"Retry-After": str(exc.retry_after)}) from None
        except (AccessDenied, UsageError) as exc:
            raise HTTPException(401, exc.message) from None
        s = accounts.session(store, cookie)
        assert s is not None  # just created
        response.set_cookie(
            auth.COOKIE,
            cookie,
            max_age=accounts.SESSION_HOURS * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return LoginResult(
            user=who.user, role=who.role, orgs=list(who.orgs), country=who.country, csrf=s.csrf
        )

    @api.post("/logout", tags=["auth"])
    def logout(request: Request, response: Response) -> dict[str, bool]:
        """End the browser session (its cookie stops working at once)."""
        cookie = request.cookies.get(auth.COOKIE)
        s = accounts.session(store, cookie)
        if cookie and s is not None:
            auth.check_csrf(store, request)
            accounts.logout(store, cookie)
            accounts.record(store, s.user, "logout", s.user, client=auth.client_of(request))
        response.delete_cookie(auth.COOKIE, path="/")
        return {"signed_out": s is not None}

    @api.get("/me", response_model=Me, tags=["auth"])
    def me(who: Principal = ctx.signed_in) -> Me:
        return Me(user=who.user, role=who.role, orgs=list(who.orgs), country=who.country)

    @api.post("/tokens", response_model=TokenResult, status_code=201, tags=["auth"])
    def new_token(request: Request, who: Principal = ctx.signed_in) -> TokenResult:
        """A new API token for the caller, shown once: send it as ``Authorization: Bearer``."""
        token = create_token(store, who.user, role=who.role, org=who.orgs[0] if who.orgs else None)
        accounts.record(store, who.user, "token.create", who.user, client=auth.client_of(request))
        return TokenResult(user=who.user, token=token)

    @api.delete("/tokens", response_model=Revoked, tags=["auth"])
    def drop_tokens(request: Request, who: Principal = ctx.signed_in) -> Revoked:
        """Revoke every API token of the caller (the one in use included)."""
        n = revoke_tokens(store, who.user)
        accounts.record(
            store, who.user, "token.revoke", who.user, client=auth.client_of(request), count=n
        )
        return Revoked(revoked=n)
