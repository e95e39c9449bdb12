"""Real services for integration tests, started by the test session itself.

PostgreSQL: a private throwaway cluster (initdb + pg_ctl as the ``postgres`` user, since
initdb refuses root) on a free port on 127.0.0.1, removed at the end. ``make test``
installs the server package and sets ``WEIGHTWATCH_REQUIRE_SERVICES=1`` so a missing
service fails the run instead of skipping tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _required() -> bool:
    return os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") == "1"


def _unavailable(why: str) -> None:
    if _required():
        pytest.fail(f"required test service unavailable: {why}")
    pytest.skip(why)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for test servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh PostgreSQL database."""
    env_url = os.environ.get("WEIGHTWATCH_TEST_PG_URL")
    if env_url:
        yield env_url
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        _unavailable("PostgreSQL server binaries not installed (apt-get install postgresql)")
    bindir = Path(bins[-1]).parent
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("no 'postgres' system user")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="ww-pg-"))
    os.chown(base, pg_user.pw_uid, pg_user.pw_gid) if os.geteuid() == 0 else None
    port = free_port()
    data = base / "data"
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            check=True,
            capture_output=True,
        )
        opts = f"-k {base} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off"
        subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "weightwatch",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/weightwatch"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    """SQLite in ``tmp``, or a fresh database on the test PostgreSQL server, by the
    requesting fixture's param (``sqlite`` or ``postgresql``); usable at any fixture scope."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'registry.db'}"
    server = str(request.getfixturevalue("postgres_url"))
    import uuid

    import psycopg

    name = f"reg_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
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


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, headless; skipped when it is not installed
    (a failure where ``make test`` promised it)."""
    if not CHROMIUM.exists():
        if os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is not installed (make services installs it)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
