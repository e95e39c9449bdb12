"""Database engines: the one place that knows how weightwatch talks to SQLite and PostgreSQL.

Every store (the registry, the transparency log, the audit response cache) gets its
engine from ``make_engine``, so they share one set of rules:

* SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, and
  weightwatch begins its own transactions: plain ``BEGIN`` for reads, ``BEGIN
  IMMEDIATE`` for the engine ``writer`` returns, so a transaction that reads then
  writes takes the write lock up front instead of deadlocking on the upgrade.
* PostgreSQL goes through psycopg 3 (``postgresql://`` means ``postgresql+psycopg://``)
  with connections checked before use.

``synchronous=NORMAL`` in WAL mode survives a crash of the process but may lose the last
commits on power loss; a store that signs what it wrote (the log's checkpoints) flushes
first, see ``weightwatch.attest.logstore``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from weightwatch.errors import UsageError

WRITE = "weightwatch_write"
#: seconds a SQLite connection waits for another process's lock before failing
SQLITE_TIMEOUT = 60.0
_POSTGRES_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin.

    A transaction that reads then writes must lock first (``BEGIN IMMEDIATE``), or two
    writers deadlock on the upgrade; plain reads must not, or they queue behind writers.
    On PostgreSQL this changes nothing (lock rows with ``SELECT … FOR UPDATE`` there).
    """
    return engine.execution_options(**{WRITE: True})


def parse_url(url: str | URL) -> URL:
    """The URL as SQLAlchemy reads it, PostgreSQL mapped to psycopg 3; ``UsageError`` if
    it is not one weightwatch can store data in."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"{_redacted(url)}: not a database URL ({exc})") from exc
    if parsed.drivername in _POSTGRES_DRIVERS:
        parsed = parsed.set(drivername=_POSTGRES_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(
            f"{_redacted(parsed)}: weightwatch stores data in SQLite or PostgreSQL",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )
    return parsed


def make_engine(url: str | URL, *, timeout: float = SQLITE_TIMEOUT) -> Engine:
    """An engine for ``url`` set up for safe concurrent use (see the module docstring).

    ``timeout`` is how long SQLite waits for a lock; ``sqlite://`` (in memory) gives one
    connection shared by every thread, so it behaves like a file nobody else opens.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise UsageError(
                f"{_redacted(parsed)}: PostgreSQL needs the psycopg driver ({exc})",
                hint="pip install 'weightwatch[postgres]'",
            ) from exc
    return _sqlite_engine(parsed, timeout)


def _sqlite_engine(url: URL, timeout: float) -> Engine:
    memory = url.database in (None, "", ":memory:")
    connect_args: dict[str, Any] = {"isolation_level": None, "timeout": timeout}
    if memory:  # one connection, or each thread would see its own empty database
        connect_args["check_same_thread"] = False
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args=connect_args)
    busy_ms = int(timeout * 1000)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cur.close()

    # The driver runs in autocommit (isolation_level=None) so that these statements,
    # not pysqlite's own guesses, decide when a transaction begins and what it locks.
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )

    return engine


def _redacted(url: str | URL) -> str:
    """A URL fit for an error message: no password."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return url.split("@")[-1] if "@" in url else url


__all__ = ["SQLITE_TIMEOUT", "WRITE", "make_engine", "parse_url", "writer"]
