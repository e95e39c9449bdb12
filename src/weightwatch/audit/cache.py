"""A content-addressed SQLite cache: (target identity, conversation, settings) → reply.

Every reply is written (and committed) as soon as it arrives, so an audit killed halfway
resumes by itself: the rerun finds the finished items here and queries only the rest.
Keys are SHA-256 over one canonical JSON form, so the same request always maps to the same
row whichever audit, attack spelling or process asked it. The file uses WAL mode and is
safe to share between concurrent runs on one machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import REAL, Column, Integer, MetaData, Table, Text, func, select, text, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from weightwatch.audit.attacks.base import Conversation
from weightwatch.audit.targets.base import GenerationSettings
from weightwatch.db import make_engine, writer
from weightwatch.errors import UsageError

CACHE_SCHEMA = 1
#: seconds a run waits for another run's write lock on a shared cache file
TIMEOUT = 30.0

_metadata = MetaData()
_meta = Table(
    "meta",
    _metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
_responses = Table(
    "responses",
    _metadata,
    Column("key", Text, primary_key=True),
    Column("target", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("created", REAL, nullable=False),
    Column("hits", Integer, nullable=False, server_default=text("0")),
)


def default_cache_path() -> Path:
    """``audit.sqlite`` in ``$WEIGHTWATCH_CACHE_DIR`` or ``$XDG_CACHE_HOME/weightwatch``."""
    explicit = os.environ.get("WEIGHTWATCH_CACHE_DIR")
    if explicit:
        return Path(explicit) / "audit.sqlite"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "weightwatch" / "audit.sqlite"


def request_json(target: str, conversation: Conversation, settings: GenerationSettings) -> str:
    """The canonical request: sorted keys, no whitespace, UTF-8 kept as is."""
    value = {
        "target": target,
        "conversation": conversation.model_dump(mode="json"),
        "settings": settings.model_dump(mode="json"),
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(target: str, conversation: Conversation, settings: GenerationSettings) -> str:
    return hashlib.sha256(request_json(target, conversation, settings).encode()).hexdigest()


class CachedResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    target: str
    response: str
    created: float
    hits: int


class ResponseCache:
    """Open (or create) the cache at ``path``; ``":memory:"`` for a throwaway one.

    Safe to share between threads (calls are serialised) and between processes (SQLite's
    locks, through the engine ``weightwatch.db`` makes).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # URL.create, not a string: any file name is taken as is (even with '?' or '#')
        url = URL.create("sqlite", database=None if self.path is None else str(self.path))
        self._engine = make_engine(url, timeout=TIMEOUT)
        try:
            # one write transaction: concurrent first runs create the tables only once
            with writer(self._engine).begin() as conn:
                _metadata.create_all(conn, checkfirst=True)
                found = conn.execute(
                    select(_meta.c.value).where(_meta.c.key == "schema")
                ).scalar_one_or_none()
                if found is None:
                    conn.execute(
                        insert(_meta)
                        .values(key="schema", value=str(CACHE_SCHEMA))
                        .on_conflict_do_nothing()
                    )
        except DBAPIError as exc:
            self._engine.dispose()
            if isinstance(exc.orig, sqlite3.DatabaseError):
                raise UsageError(f"{path}: not a weightwatch audit cache: {exc.orig}") from exc
            raise
        if found is not None and found != str(CACHE_SCHEMA):
            self._engine.dispose()
            raise UsageError(f"{path}: cache schema {found}, this version reads {CACHE_SCHEMA}")
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The cached reply, counting the hit; None when this request was never answered."""
        with self._lock:
            with self._engine.begin() as conn:
                found = conn.execute(
                    select(_responses.c.response).where(_responses.c.key == key)
                ).scalar_one_or_none()
            if found is None:
                return None
            with self._engine.begin() as conn:
                conn.execute(
                    update(_responses)
                    .where(_responses.c.key == key)
                    .values(hits=_responses.c.hits + 1)
                )
            return str(found)

    def put(self, key: str, *, target: str, request: str, response: str) -> None:
        """Store a reply (committed at once); an existing row is left untouched."""
        row = {
            "key": key,
            "target": target,
            "request": request,
            "response": response,
            "created": time.time(),
        }
        with self._lock, self._engine.begin() as conn:
            conn.execute(insert(_responses).values(row).on_conflict_do_nothing())

    def entries(self, target: str | None = None) -> list[CachedResponse]:
        """Every stored reply (of one target), oldest first."""
        r = _responses.c
        query = select(r.key, r.target, r.response, r.created, r.hits)
        if target is not None:
            query = query.where(r.target == target)
        with self._lock, self._engine.begin() as conn:
            rows = conn.execute(query.order_by(r.created, r.key)).all()
        return [
            CachedResponse(key=k, target=t, response=v, created=c, hits=h) for k, t, v, c, h in rows
        ]

    def __len__(self) -> int:
        with self._lock, self._engine.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(_responses)).scalar_one())

    def close(self) -> None:
        with self._lock:
            self._engine.dispose()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
