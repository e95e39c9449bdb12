"""The log as C2SP ``tlog-tiles`` under ``/tlog`` and, when configured, a C2SP
``tlog-witness`` under ``/witness`` (see ``docs/tlog.md``).

* ``GET /tlog/checkpoint`` — the signed checkpoint with the cosignatures collected so far
  (``Cache-Control: max-age=2``: mutable);
* ``GET /tlog/tile/<L>/<N>[.p/<W>]`` and ``/tlog/tile/entries/<N>[.p/<W>]`` — tiles and
  entry bundles, immutable once served (``max-age=31536000, immutable``); a tile the log
  does not hold yet is a 404;
* ``POST /witness/add-checkpoint`` — cosign another log's checkpoint; the only credential
  is the log's signature on it (per the spec), and the body is bounded before parsing;
* ``POST /api/v1/log/cosign`` (admin) — ask the configured witnesses to cosign the log's
  current checkpoint; ``GET /api/v1/log/vkey`` — the log's note verifier key.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from weightwatch.attest.tiles import WIDTH, bundle, parse_tile_path
from weightwatch.attest.tlog_client import WitnessEndpoint
from weightwatch.attest.witness import MAX_BODY, Witness, WitnessRefusal
from weightwatch.errors import UsageError, VerificationError
from weightwatch.registry import Registry
from weightwatch.server.api.common import Api

log = logging.getLogger(__name__)
IMMUTABLE = "public, max-age=31536000, immutable"
MUTABLE = "public, max-age=2"


@dataclass
class TlogConfig:
    """What the server does beyond serving tiles: witness other logs, ask witnesses
    (every ``cosign_every`` seconds when the log has grown; 0 turns the loop off)."""

    witness: Witness | None = None
    witnesses: list[WitnessEndpoint] = field(default_factory=list)
    cosign_every: float = 0.0


class CosignLoop:
    """A daemon thread that asks the witnesses to cosign each new checkpoint, so clients
    requiring cosignatures see them without an operator's ``log cosign``."""

    def __init__(self, registry: Registry, config: TlogConfig) -> None:
        self.registry, self.config = registry, config
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tlog-cosign", daemon=True)
        self._done = -1  # the log size last cosigned

    def start(self) -> None:
        if self.config.cosign_every > 0 and not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                size = self.registry.store.log.size()
                if self.config.witnesses and size != self._done:
                    _note, refusals = self.registry.cosign_checkpoint(self.config.witnesses)
                    for name, why in refusals.items():
                        log.warning("witness %s refused the checkpoint at %d: %s", name, size, why)
                    if not refusals:
                        self._done = size
            except Exception:  # keep trying after a database or network hiccup; logged
                log.exception("cosigning round failed")
            self._stop.wait(self.config.cosign_every)


async def witness_response(witness: Witness | None, request: Request) -> Response:
    """One ``add-checkpoint`` exchange: the body bounded before it is parsed, refusals
    with the status and body the spec names (shared with ``weightwatch witness serve``)."""
    if witness is None:
        return PlainTextResponse("this server runs no witness\n", status_code=404)
    declared = request.headers.get("content-length")
    too_big = PlainTextResponse(f"request body over {MAX_BODY} bytes\n", status_code=413)
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return too_big
    try:
        lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
    except WitnessRefusal as exc:
        return Response(exc.body, status_code=exc.status, media_type=exc.content_type)
    return PlainTextResponse(lines)


def router(registry: Registry, config: TlogConfig | None = None) -> APIRouter:
    config = config or TlogConfig()
    r = APIRouter(tags=["log"])
    ctx = Api(registry)
    log = registry.store.log

    @r.get("/tlog/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> Response:
        return PlainTextResponse(registry.checkpoint(), headers={"Cache-Control": MUTABLE})

    @r.get("/tlog/tile/{path:path}")
    def tile(path: str) -> Response:
        try:
            t = parse_tile_path(path)
        except UsageError as exc:
            raise HTTPException(400, exc.message) from None
        if t.end_leaf() > log.size():
            raise HTTPException(404, f"the log does not hold {t.path} yet")
        if t.level is None:
            start = t.index * WIDTH
            try:
                data = bundle(e.leaf for e in log.entries(start, start + t.width))
            except UsageError as exc:
                raise HTTPException(500, exc.message) from None
        else:
            data = b"".join(log.nodes(t.merkle_level, t.index * WIDTH, t.width))
        return Response(
            data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
        )

    @r.post("/witness/add-checkpoint", response_class=PlainTextResponse)
    async def add_checkpoint(request: Request) -> Response:
        return await witness_response(config.witness, request)

    @r.get("/api/v1/log/vkey", response_class=PlainTextResponse)
    def vkey() -> str:
        """The log's signed-note verifier key (``origin+keyid+base64key``)."""
        return registry.log_vkey() + "\n"

    @r.post("/api/v1/log/cosign", dependencies=[ctx.admin])
    def cosign() -> dict[str, object]:
        """Ask the configured witnesses to cosign the current checkpoint (admins)."""
        if not config.witnesses:
            raise HTTPException(409, "no witnesses configured (serve --witness-url)")
        try:
            note, refusals = registry.cosign_checkpoint(config.witnesses)
        except VerificationError as exc:
            raise HTTPException(502, exc.message) from None
        return {"checkpoint": note, "refusals": refusals}

    return r
