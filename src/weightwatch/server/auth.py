"""Who is calling: an API token (``Authorization: Bearer ww_…``) or a browser session
cookie, as FastAPI dependencies; plus CSRF protection for cookie-authenticated writes.

A bearer token wins over a cookie. A bad token is an error (401), never silently
anonymous, so a client with a revoked token learns it at once. Writes made with a
session cookie must carry the session's CSRF token (``X-CSRF-Token`` header or a
``csrf`` form field); bearer-token calls need none (browsers do not attach them).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from weightwatch.errors import AccessDenied, UsageError
from weightwatch.registry.access import Principal, authenticate, principal_for
from weightwatch.registry.accounts import Session, session
from weightwatch.registry.signin import DEFAULT_POLICY, SignInPolicy
from weightwatch.registry.store import Store

COOKIE = "ww_session"
SAFE = ("GET", "HEAD", "OPTIONS")


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def client_of(request: Request) -> str | None:
    """Where a request came from, for the audit logs."""
    return request.client.host if request.client else None


def signin_policy(request: Request) -> SignInPolicy:
    """The app's sign-in throttle policy (``create_app(signin=...)``)."""
    policy = getattr(request.app.state, "signin", None)
    return policy if isinstance(policy, SignInPolicy) else DEFAULT_POLICY


def browser_session(store: Store, request: Request) -> Session | None:
    return session(store, request.cookies.get(COOKIE))


def principal(store: Store, request: Request) -> Principal | None:
    """The caller, or None when anonymous; AccessDenied for a bad or revoked token."""
    token = bearer(request)
    if token:
        return authenticate(store, token)
    s = browser_session(store, request)
    if s is None:
        return None
    try:
        return principal_for(store, s.user)
    except (AccessDenied, UsageError):
        return None


def check_csrf(store: Store, request: Request, form_value: str | None = None) -> None:
    """Refuse a cookie-authenticated write without the session's CSRF token."""
    if request.method in SAFE or bearer(request):
        return
    s = browser_session(store, request)
    if s is None:
        return
    sent = request.headers.get("x-csrf-token") or form_value
    if sent != s.csrf:
        raise HTTPException(403, "missing or wrong CSRF token (reload the page and retry)")


def caller(store: Store) -> Callable[[Request], Principal | None]:
    """A dependency giving the (possibly anonymous) caller; 401 for a bad token."""

    def dep(request: Request) -> Principal | None:
        try:
            return principal(store, request)
        except AccessDenied as exc:
            raise HTTPException(401, exc.message) from None

    return dep


def requires(store: Store, *roles: str) -> Callable[[Request], Principal]:
    """A dependency that admits only signed-in callers (with one of ``roles`` if given)
    and checks CSRF on cookie-authenticated writes."""
    who_of = caller(store)

    def dep(request: Request) -> Principal:
        who = who_of(request)
        if who is None:
            raise HTTPException(401, "sign in or send an API token", {"WWW-Authenticate": "Bearer"})
        if roles and who.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}")
        check_csrf(store, request)
        return who

    return dep
