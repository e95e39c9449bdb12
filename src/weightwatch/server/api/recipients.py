"""A recipient's own copy: the registry-signed derivation record of the marked copy the
caller is served (``registry.recipients``). Only a caller who may download the version
and is a recipient of it gets one; the record names digests and the key's public id,
never the key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from weightwatch.registry.access import Principal
from weightwatch.registry.recipients import derivation, marking, recipient
from weightwatch.server.api.common import Api
from weightwatch.server.bounds import RowId


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry, store = ctx.registry, ctx.store

    @api.get("/models/{ns}/{name}/versions/{n}/copy", tags=["models"])
    def copy_derivation(ns: str, name: str, n: RowId, who: Principal = ctx.signed_in) -> Any:
        """The signed derivation record (a DSSE bundle) of the caller's recipient copy:
        for each changed file, the original's digest, the copy's digest and the key id."""
        r = ctx.version(who, ns, name, n)
        if registry.visibility(who, r).refusal is not None:
            raise HTTPException(403, f"you may not download {r.label}")
        if marking(store, r.id) is None or recipient(store, who, r) is None:
            raise HTTPException(404, f"{r.label} has no recipient copy for you")
        return derivation(store, who, r)
