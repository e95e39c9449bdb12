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

from weightwatch.audit.attacks.base import Conversation
from weightwatch.audit.targets.base import GenerationSettings
from weightwatch.errors import UsageError

CACHE_SCHEMA = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
"""


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
    """Open (or create) the cache at ``path``; ``":memory:"`` for a throwaway one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(CACHE_SCHEMA),)
                )
            elif row[0] != str(CACHE_SCHEMA):
                raise UsageError(
                    f"{path}: cache schema {row[0]}, this version reads {CACHE_SCHEMA}"
                )
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{path}: not a weightwatch audit cache: {exc}") from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The cached reply, counting the hit; None when this request was never answered."""
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key=?", (key,)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE responses SET hits = hits + 1 WHERE key=?", (key,))
            return str(row[0])

    def put(self, key: str, *, target: str, request: str, response: str) -> None:
        """Store a reply (committed at once); an existing row is left untouched."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO responses (key, target, request, response, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, target, request, response, time.time()),
            )

    def entries(self, target: str | None = None) -> list[CachedResponse]:
        """Every stored reply (of one target), oldest first."""
        query = "SELECT key, target, response, created, hits FROM responses"
        args: tuple[str, ...] = ()
        if target is not None:
            query, args = query + " WHERE target=?", (target,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created, key", args).fetchall()
        return [
            CachedResponse(key=k, target=t, response=r, created=c, hits=h) for k, t, r, c, h in rows
        ]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
