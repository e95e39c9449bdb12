"""The JSON API under /api/v1 over real HTTP, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from weightwatch.registry import Registry

pytestmark = pytest.mark.slow


# -- helpers shared by the server API tests (test_authz, test_token_hygiene) ------------------
def database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    """SQLite in ``tmp``, or a fresh database on the test PostgreSQL server, by the
    fixture's param (the ``db_url`` pattern of tests/registry, for any fixture scope)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'registry.db'}"
    server = str(request.getfixturevalue("postgres_url"))
    import psycopg

    name = f"api_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, **{"log_level": "warning", **config})
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
