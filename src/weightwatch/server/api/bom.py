"""AI-BOMs of a version (CycloneDX 1.6 or SPDX 3.0.1) and their detached signatures.

A BOM lists every file and digest and the version's reports, so it is shown exactly
as the file list and reports are: 404 for a version the caller may not know exists,
403 while it is taken down; the pedigree keeps only parents the caller may see.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from weightwatch.registry.access import Principal
from weightwatch.server.api.common import Api
from weightwatch.server.bounds import RowId

BomFormat = Literal["cyclonedx", "spdx"]
FormatParam = Annotated[BomFormat, Query(alias="format")]


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry = ctx.registry

    def document(
        request: Request, ns: str, name: str, n: int, fmt: str, who: Principal | None
    ) -> tuple[bytes, Any]:
        r = ctx.version(who, ns, name, n)
        ctx.contents(who, r)
        try:
            from weightwatch.bom import render, to_bytes
            from weightwatch.bom.gather import from_registry
        except ImportError as exc:  # the [bom] extra is not installed on this server
            raise HTTPException(501, f"AI-BOM export needs the [bom] extra: {exc}") from exc
        subject = from_registry(
            registry, r.label, visible=lambda label: registry.label_visible(who, label)
        )
        where = f"{str(request.base_url).rstrip('/')}/{ns}/{name}"
        return to_bytes(render(subject, fmt, download_location=where)), subject

    @api.get("/models/{ns}/{name}/versions/{n}/bom", tags=["models"])
    def bom(
        request: Request,
        ns: str,
        name: str,
        n: RowId,
        fmt: FormatParam = "cyclonedx",
        who: Principal | None = ctx.anyone,
    ) -> Response:
        """The version's AI-BOM, validated against the format's official schema:
        ``format=cyclonedx`` (1.6 ML-BOM) or ``spdx`` (3.0.1, AI profile)."""
        from weightwatch.bom import MEDIA_TYPES

        data, _ = document(request, ns, name, n, fmt, who)
        return Response(data, media_type=MEDIA_TYPES[fmt])

    @api.get("/models/{ns}/{name}/versions/{n}/bom/signature", tags=["models"])
    def bom_signature(
        request: Request,
        ns: str,
        name: str,
        n: RowId,
        fmt: FormatParam = "cyclonedx",
        who: Principal | None = ctx.anyone,
    ) -> dict[str, Any]:
        """A detached DSSE bundle, signed with the registry key, over the exact bytes
        ``…/bom?format=`` returns (check with ``weightwatch bom-verify``)."""
        from weightwatch.bom import sign_bom

        data, subject = document(request, ns, name, n, fmt, who)
        return sign_bom(
            data,
            ctx.store.signer,
            fmt=fmt,
            model=subject.label,
            weights_digest=subject.weights_digest,
        )
