"""The watermark detection form: token ids tested against registered deployments' keys
(needs the server's watermark master secret; rate-limited per user)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from weightwatch.errors import WeightwatchError
from weightwatch.registry.access import Principal
from weightwatch.registry.accounts import record
from weightwatch.server.ui.common import Site, form_value
from weightwatch.server.watermark_api import RateLimiter


def add_routes(ui: APIRouter, site: Site, *, watermark_master: Path | None) -> None:
    """``/watermark``; without ``watermark_master`` the form says detection is off."""
    registry, store = site.registry, site.store
    limiter = RateLimiter(30, 10)

    @ui.get("/watermark", response_class=HTMLResponse)
    def watermark(request: Request) -> Response:
        who = site.signed_in(request)
        if not isinstance(who, Principal):
            return who
        return site.page(
            request,
            "watermark.html",
            configured=watermark_master is not None,
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
            configured=watermark_master is not None,
            result=result,
            models=models,
            form=values,
            error_message=message,
        )

    def detect(who: Principal, values: dict[str, Any]) -> tuple[Any, list[str], str, int]:
        from weightwatch.watermark.deployments import (
            KeyRing,
            detect_by_key_id,
        )
        from weightwatch.watermark.keys import MasterSecret
        from weightwatch.watermark.windows import DEFAULT_WINDOWS

        if watermark_master is None:
            return None, [], "This server has no watermark master secret configured.", 503
        key_ids = [k for k in re.split(r"[\s,]+", values["key_ids"]) if k][:64]
        try:
            tokens = [int(t) for t in re.split(r"[\s,]+", values["token_ids"]) if t]
        except ValueError:
            return None, [], "Token ids must be whole numbers separated by commas or spaces.", 400
        if not key_ids or not tokens or len(tokens) > 100_000:
            return None, [], "Give at least one key id and 1 to 100,000 token ids.", 400
        if not limiter.allow(who.user):
            return None, [], "Rate limit reached; try again in a little while.", 429
        deployments = site.registry.watermark_records(key_ids)
        missing = sorted(set(key_ids) - {d.key_id for d in deployments})
        if missing:
            return None, [], f"No registered deployment has key id {missing[0]}.", 404
        try:
            result = detect_by_key_id(
                tokens,
                keyring=KeyRing(MasterSecret.load(watermark_master), deployments),
                key_ids=key_ids,
                windows=DEFAULT_WINDOWS if values["windowed"] else None,
            )
        except WeightwatchError as exc:
            return None, [], exc.diagnostics(), 400
        record(store, who.user, "watermark.detect", ",".join(key_ids), tokens=len(tokens))
        return result, sorted({registry.version_for_key(k) for k in key_ids}), "", 200

    @ui.post("/watermark")
    async def watermark_post(request: Request) -> Response:
        return await site.posted(request, do_detect)
