"""``POST /api/watermark/detect``: detection by key id, for signed-in callers only.

The detector is an oracle: anyone who can query it freely can learn which tokens are
green, or test edits until a watermark is scrubbed. So it needs an API token, is
rate-limited per token (a token bucket), and answers only for deployments the registry
has recorded. The master secret stays on the server (``--watermark-master``); requests
name public key ids, never keys.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from weightwatch.errors import AccessDenied, WeightwatchError
from weightwatch.registry import Registry
from weightwatch.registry.access import authenticate
from weightwatch.watermark.deployments import KeyRing, detect_by_key_id
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.windows import DEFAULT_WINDOWS

MAX_TOKENS = 100_000


class DetectRequest(BaseModel):
    token_ids: list[int] = Field(min_length=1, max_length=MAX_TOKENS)
    key_ids: list[str] = Field(min_length=1, max_length=64)
    windowed: bool = False


class RateLimiter:
    """A token bucket per caller: ``rate`` requests per minute, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate / 60.0, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            self._state[who] = (tokens - 1.0 if ok else tokens, now)
            return ok


def router(
    registry: Registry, master_path: Path | None, *, per_minute: float = 30, burst: int = 10
) -> APIRouter:
    api = APIRouter()
    limiter = RateLimiter(per_minute, burst)
    master = MasterSecret.load(master_path) if master_path else None

    def _error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @api.post("/api/watermark/detect")
    def detect(body: DetectRequest, request: Request) -> Any:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        try:
            who = authenticate(registry.store, token)
        except AccessDenied:
            who = None
        if who is None:
            return _error(401, "detection needs an API token", **{"WWW-Authenticate": "Bearer"})
        if not limiter.allow(who.user):
            return _error(429, "rate limit reached; try again later", **{"Retry-After": "10"})
        if master is None:
            return _error(503, "this server has no watermark master secret configured")
        deployments = registry.watermark_records(body.key_ids)
        missing = sorted(set(body.key_ids) - {d.key_id for d in deployments})
        if missing:
            return _error(404, f"no registered deployment has key id {missing[0]}")
        try:
            result = detect_by_key_id(
                body.token_ids,
                keyring=KeyRing(master, deployments),
                key_ids=body.key_ids,
                windows=DEFAULT_WINDOWS if body.windowed else None,
            )
        except WeightwatchError as exc:
            return _error(400, exc.diagnostics())
        return {
            "detection": result.model_dump(mode="json"),
            "models": sorted({registry.version_for_key(k) for k in body.key_ids}),
        }

    return api
