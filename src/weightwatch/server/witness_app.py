"""A witness on its own (``weightwatch witness serve``): only ``add-checkpoint``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from weightwatch import __version__
from weightwatch.attest.witness import Witness
from weightwatch.server.tlog import witness_response


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="weightwatch witness", version=__version__, docs_url=None, redoc_url=None)

    async def add_checkpoint(request: Request) -> Response:
        return await witness_response(witness, request)

    for path in ("/add-checkpoint", "/witness/add-checkpoint"):
        app.add_api_route(path, add_checkpoint, methods=["POST"], response_class=PlainTextResponse)
    return app
