"""What every request passes through before any route sees it (one ASGI middleware):

* **body limits**: a request body outside the streamed upload routes is refused with 413
  once it passes ``max_body`` bytes (at once from ``Content-Length``; while reading a
  chunked body), so no route ever parses an unbounded body, signed in or not;
* **NUL characters**: refused (400) in the path, the query and every bounded body (raw,
  ``%00`` or JSON ``\\u0000``): no name, reason or key id holds one, and PostgreSQL
  refuses them in text (a 500 the fuzzing found);
* **authentication before parsing**: a write to the API (``/api/…``, sign-in and
  sign-out aside) without valid credentials — a bearer token or a live session — is
  refused with 401 before its body is read; the routes then check roles as before;
* **cross-origin writes**: a state-changing request from a browser on another origin
  (``Origin`` not this host, or ``Sec-Fetch-Site: cross-site``/``same-site``) is refused
  with 403 unless it carries an API token, which browsers never attach by themselves;
  this stops login CSRF (a page signing the victim into the attacker's account) and is a
  second wall behind the session CSRF tokens;
* **security headers** on every response: a Content Security Policy (own scripts and
  styles only, no framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KiB = 1 << 10
MiB = 1 << 20
#: streamed uploads bound their bodies themselves (``max_upload_bytes``/``max_file_bytes``)
STREAMED = re.compile(r"^/api/v1/uploads/[^/]+/(?:files/.+|tar)$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: the interactive API docs load Swagger UI / ReDoc from their CDN with inline scripts
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS = ("/docs", "/redoc")
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


@dataclass(frozen=True)
class GuardPolicy:
    """Body limits per path (the first prefix that matches wins, else ``max_body``)."""

    max_body: int = 1 * MiB
    larger: tuple[tuple[str, int], ...] = field(
        default=(("/api/watermark/detect", 4 * MiB), ("/watermark", 4 * MiB))
    )

    def limit(self, path: str) -> int | None:
        """Bytes a body to ``path`` may have; None for the streamed uploads."""
        if STREAMED.match(path):
            return None
        return next((n for p, n in self.larger if path == p), self.max_body)


class BodyTooLarge(Exception):
    pass


#: API writes anyone may make: signing in and out (the routes throttle and check them)
ANONYMOUS_WRITES = frozenset({"/api/v1/login", "/api/v1/logout"})
#: tells whether a request's credentials (bearer token or session cookie) are valid
Authenticator = Callable[[Scope], Awaitable[bool]]
SIGN_IN_FIRST = "sign in first: this call needs a valid API token or session"


class Guards:
    """The middleware; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        policy: GuardPolicy | None = None,
        authenticated: Authenticator | None = None,
    ) -> None:
        self.app = app
        self.policy = policy or GuardPolicy()
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        csp = DOCS_CSP if path in DOCS or path.startswith("/docs/") else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k.encode() not in have]
                if b"content-security-policy" not in have:
                    extra.append(("content-security-policy", csp))
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in extra),
                ]
            await send(message)

        method = scope.get("method", "GET")
        if _has_nul(
            path.encode("utf-8", "surrogateescape") + b"?" + scope.get("query_string", b"")
        ):
            await _refuse(send_with_headers, path, 400, NUL_IN_PATH)
            return
        if method not in SAFE_METHODS:
            refused = _cross_origin(headers)
            if refused:
                await _refuse(send_with_headers, path, 403, refused)
                return
            if (
                self.authenticated is not None
                and path.startswith("/api/")
                and path not in ANONYMOUS_WRITES
                and not await self.authenticated(scope)
            ):  # authenticate before a single byte of the body is read or parsed
                await _refuse(send_with_headers, path, 401, SIGN_IN_FIRST)
                return
            limit = self.policy.limit(path)
            if limit is not None:
                declared = headers.get("content-length")
                if declared is not None and (not declared.isdigit() or int(declared) > limit):
                    await _refuse(send_with_headers, path, 413, _too_large(limit))
                    return
                try:
                    body = await _read(receive, limit)
                except BodyTooLarge:
                    await _refuse(send_with_headers, path, 413, _too_large(limit))
                    return
                if _has_nul(body):
                    await _refuse(send_with_headers, path, 400, NUL_MESSAGE)
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send_with_headers)


NUL_MESSAGE = "the request contains a NUL character, which no name or field may hold"
NUL_IN_PATH = "the request path or query contains a NUL character (%00), which no name holds"


def _has_nul(data: bytes) -> bool:
    return b"\x00" in data or b"%00" in data or b"\\u0000" in data


def _too_large(limit: int) -> str:
    return f"request body too large (this endpoint accepts at most {limit} bytes)"


def _cross_origin(headers: dict[str, str]) -> str | None:
    """Why a state-changing request is a cross-origin browser write, or None."""
    if headers.get("authorization", "").lower().startswith("bearer "):
        return None  # browsers never attach a bearer token on their own
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        return f"cross-origin request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is None:
        return None  # not sent by a browser, or a same-origin form in an old browser
    host = headers.get("host", "")
    got = urlsplit(origin).netloc if origin != "null" else "null"
    if got.lower() != host.lower():
        return f"cross-origin request refused (Origin {origin} is not this site)"
    return None


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # a disconnect: let the app see an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect as usual

    return again


async def _refuse(send: Send, path: str, status: int, message: str) -> None:
    """Answer ``status`` with the message (JSON on the API, a page elsewhere); a 401 names
    the scheme to use (``WWW-Authenticate: Bearer``)."""
    if path.startswith("/api/") or "/resolve/" in path:
        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        from html import escape

        body = (
            "<!doctype html><meta charset=utf-8><title>Refused</title>"
            f"<p role=alert>{escape(message)}</p>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                *([(b"www-authenticate", b"Bearer")] if status == 401 else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
