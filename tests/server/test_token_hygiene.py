"""Secrets stay secret: API tokens, session cookies and passwords appear in no log line
(uvicorn's access and error logs, ours, SQLAlchemy's statements and parameters, all at
DEBUG), in no row of the database, and in no response but the one that created them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import MetaData, select

from tests.services import database_url, serving
from weightwatch.registry import Registry
from weightwatch.registry.accounts import create_user

pytestmark = pytest.mark.slow

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "weightwatch", "fastapi",
           "starlette", "sqlalchemy.engine")  # fmt: skip
CLIENT = ("httpx", "httpcore")  # the test's own HTTP client logs the headers it receives


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT):
            self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Collect]:
    """Every server-side log record at DEBUG, whether or not its logger propagates (a
    server configured earlier in the session may have given uvicorn's its own handlers)."""
    handler = Collect()
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.disabled)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        logger.addHandler(handler)
    yield handler
    for name, (level, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.disabled = disabled


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):  # type: ignore[no-untyped-def]
    return database_url(request, tmp_path)


def test_tokens_cookies_and_passwords_are_never_logged_stored_or_echoed(  # type: ignore[no-untyped-def]
    db, logs, capfd, tmp_path, llama_family
):
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", db, init=True)
    reg.register(llama_family.base, "acme/base")
    reg.register(llama_family.independent, "acme/gated", access="gated")
    password = "pw-" + secrets.token_urlsafe(16)
    wrong = "wrong-" + secrets.token_urlsafe(16)
    forged = "ww_" + secrets.token_urlsafe(32)
    create_user(reg.store, "alice", password)
    seen: list[str] = []  # every response but the two that hand out secrets

    def keep(r: httpx.Response) -> httpx.Response:
        seen.append(f"{r.status_code} {r.headers!r} {r.text}")
        return r

    app = create_app(tmp_path / "reg", db)
    with serving(app, log_config=None, log_level="debug", access_log=True) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            # failing sign-ins: a wrong password, and the right one for a mistyped user
            keep(http.post("/api/v1/login", json={"user": "alice", "password": wrong}))
            keep(http.post("/api/v1/login", json={"user": "alicee", "password": password}))
            r = http.post("/api/v1/login", json={"user": "alice", "password": password})
            assert r.status_code == 200
            cookie = http.cookies["ww_session"]
            seen.append(r.text)  # the body (user, csrf) but not the Set-Cookie header
            csrf = r.json()["csrf"]
            made = http.post("/api/v1/tokens", headers={"X-CSRF-Token": csrf})
            assert made.status_code == 201
            token = made.json()["token"]
            keep(http.get("/api/v1/me"))
        with httpx.Client(base_url=url, timeout=30) as api:
            auth = {"Authorization": f"Bearer {token}"}
            for path in (
                "/api/v1/me",
                "/api/v1/models",
                "/api/v1/models/acme/base/versions/1",
                "/api/models/acme/base",
                "/acme/base/resolve/main/config.json",  # served: a download-log row
                "/acme/gated/resolve/main/config.json",  # denied: a download-log row
                "/api/v1/audit/events",  # 403: not an auditor
            ):
                keep(api.get(path, headers=auth))
            keep(api.head("/acme/base/resolve/main/config.json", headers=auth))
            keep(api.post("/api/v1/models/acme/gated/access-requests", json={}, headers=auth))
            keep(api.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}))
            keep(api.delete("/api/v1/tokens", headers=auth))
            revoked = keep(api.get("/api/v1/me", headers=auth))
            assert revoked.status_code == 401
            keep(api.get("/acme/base/resolve/main/config.json", headers=auth))
    out, err = capfd.readouterr()

    assert any("uvicorn.access" in line for line in logs.lines), "access log not captured"
    assert any("sqlalchemy.engine" in line for line in logs.lines), "SQL log not captured"
    with reg.store.engine.connect() as conn:
        meta = MetaData()
        meta.reflect(conn)
        rows = {
            t: [repr(tuple(r)) for r in conn.execute(select(meta.tables[t]))] for t in meta.tables
        }
    reg.close()
    assert [r for r in rows["downloads"] if "config.json" in r], "no download rows written"
    assert any("login.failed" in r for r in rows["events"])
    assert any("token.create" in r for r in rows["events"])
    for name, secret in {
        "token": token,
        "session cookie": cookie,
        "password": password,
        "wrong password": wrong,
        "forged token": forged,
    }.items():
        leaks = [line for line in logs.lines if secret in line]
        assert not leaks, f"{name} in the logs: {leaks[:2]}"
        assert secret not in out and secret not in err, f"{name} printed"
        for table, table_rows in rows.items():
            assert not [r for r in table_rows if secret in r], f"{name} stored in {table}"
        assert not [r for r in seen if secret in r], f"{name} echoed in a response"
