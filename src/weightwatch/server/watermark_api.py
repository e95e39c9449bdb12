"""``POST /api/watermark/detect``: detection by key id, for signed-in callers only.

The detector is an oracle: anyone who can query it freely can learn which tokens are
green, or test edits until a watermark is scrubbed. So it needs an API token, is
rate-limited per token (a token bucket), and answers only for deployments the registry
has recorded. The master secret stays on the server (``--watermark-master``); requests
name public key ids, never keys.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from weightwatch.errors import AccessDenied, WeightwatchError
from weightwatch.registry import Registry
from weightwatch.registry.access import Principal, authenticate
from weightwatch.watermark.deployments import KeyRing, detect_by_key_id
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.windows import DEFAULT_WINDOWS

MAX_TOKENS = 100_000
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


KeyId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
TokenId = Annotated[int, Field(ge=0, le=2**31 - 1)]


class DetectRequest(BaseModel):
    token_ids: list[TokenId] = Field(min_length=1, max_length=MAX_TOKENS)
    key_ids: list[KeyId] = Field(min_length=1, max_length=64)
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


class Refused(Exception):
    """Detection refused: an HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class Detection:
    """Detection as the API and the web form both serve it: one rate limit per user over
    both (a token bucket), and only deployments of versions the caller may see: a key id
    of a version hidden from the caller is answered exactly like an unknown one, so the
    detector never names (or confirms) a model the caller cannot see."""

    def __init__(
        self, registry: Registry, master_path: Path | None, *, per_minute: float, burst: int
    ) -> None:
        self.registry = registry
        self.master = MasterSecret.load(master_path) if master_path else None
        self.limiter = RateLimiter(per_minute, burst)

    @property
    def configured(self) -> bool:
        return self.master is not None

    def run(
        self, who: Principal, token_ids: list[int], key_ids: list[str], *, windowed: bool
    ) -> tuple[Any, list[str]]:
        """The detection and the versions it names; ``Refused`` otherwise."""
        bad = next((k for k in key_ids if not KEY_ID.fullmatch(k)), None)
        if bad is not None:
            raise Refused(400, f"{bad[:40]!r} is not a key id")
        if any(not 0 <= t < 2**31 for t in token_ids):
            raise Refused(400, "token ids must be whole numbers from 0 to 2**31 - 1")
        if not self.limiter.allow(who.user):
            raise Refused(429, "rate limit reached; try again later", **{"Retry-After": "10"})
        if self.master is None:
            raise Refused(503, "this server has no watermark master secret configured")
        deployments = self.registry.watermark_records(key_ids)
        owners = {d.key_id: self.registry.version_for_key(d.key_id) for d in deployments}
        seen = {k for k, label in owners.items() if self.registry.label_visible(who, label)}
        missing = sorted(set(key_ids) - seen)
        if missing:
            raise Refused(404, f"no registered deployment has key id {missing[0]}")
        try:
            result = detect_by_key_id(
                token_ids,
                keyring=KeyRing(self.master, [d for d in deployments if d.key_id in seen]),
                key_ids=key_ids,
                windows=DEFAULT_WINDOWS if windowed else None,
            )
        except WeightwatchError as exc:
            raise Refused(400, exc.diagnostics()) from None
        return result, sorted({owners[k] for k in key_ids})


def router(registry: Registry, detection: Detection) -> APIRouter:
    """``POST /api/watermark/detect``: authenticates before it reads the body."""
    api = APIRouter()

    def _error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @api.post(
        "/api/watermark/detect",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": DetectRequest.model_json_schema()}},
            }
        },
    )
    async def detect(request: Request) -> Any:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        try:
            who = authenticate(registry.store, token)
        except AccessDenied:
            who = None
        if who is None:
            return _error(401, "detection needs an API token", **{"WWW-Authenticate": "Bearer"})
        try:  # only now read the (size-bounded, see server.guards) body
            body = DetectRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(422, _explain(exc))
        try:
            result, models = await run_in_threadpool(
                detection.run, who, body.token_ids, body.key_ids, windowed=body.windowed
            )
        except Refused as exc:
            return _error(exc.status, exc.message, **exc.headers)
        return {"detection": result.model_dump(mode="json"), "models": models}

    return api


def _explain(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )
