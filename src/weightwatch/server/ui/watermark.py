"""The watermark detection form: token ids tested against registered deployments' keys
(needs the server's watermark master secret; rate-limited per user)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from weightwatch.registry.access import Principal
from weightwatch.registry.accounts import record
from weightwatch.server.ui.common import Site, form_value
from weightwatch.server.watermark_api import Detection, Refused


def add_routes(ui: APIRouter, site: Site, *, detection: Detection) -> None:
    """``/watermark``; without a master secret the form says detection is off."""
    store = site.store

    @ui.get("/watermark", response_class=HTMLResponse)
    def watermark(request: Request) -> Response:
        who = site.signed_in(request)
        if not isinstance(who, Principal):
            return who
        return site.page(
            request,
            "watermark.html",
            configured=detection.configured,
            result=None,
            models=[],
            form={"key_ids": "", "token_ids": "", "windowed": False},
            error_message="",
        )

    def do_detect(request: Request, form: FormData) -> Response:
        who = site.signed_in(request)
        if not isinstance(who, Principal):
            return who
        values = {
            "key_ids": form_value(form, "key_ids"),
            "token_ids": form_value(form, "token_ids"),
            "windowed": form.get("windowed") == "on",
        }
        result, models, message, code = detect(who, values)
        return site.page(
            request,
            "watermark.html",
            status_code=code,
            configured=detection.configured,
            result=result,
            models=models,
            form=values,
            error_message=message,
        )

    def detect(who: Principal, values: dict[str, Any]) -> tuple[Any, list[str], str, int]:
        if not detection.configured:
            return None, [], "This server has no watermark master secret configured.", 503
        key_ids = [k for k in re.split(r"[\s,]+", values["key_ids"]) if k][:64]
        try:
            tokens = [int(t) for t in re.split(r"[\s,]+", values["token_ids"]) if t]
        except ValueError:
            return None, [], "Token ids must be whole numbers separated by commas or spaces.", 400
        if not key_ids or not tokens or len(tokens) > 100_000:
            return None, [], "Give at least one key id and 1 to 100,000 token ids.", 400
        try:  # the API's own checks and rate limit (one bucket per user for both)
            result, models = detection.run(who, tokens, key_ids, windowed=values["windowed"])
        except Refused as exc:
            return None, [], exc.message[0].upper() + exc.message[1:] + ".", exc.status
        record(store, who.user, "watermark.detect", ",".join(key_ids), tokens=len(tokens))
        return result, models, "", 200

    @ui.post("/watermark")
    async def watermark_post(request: Request) -> Response:
        return await site.posted(request, do_detect)
