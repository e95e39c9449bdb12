"""Models and their versions: listings, reports, decisions, attestation, lineage."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from weightwatch.attest.checkpoint import checkpoint_size
from weightwatch.registry import TreeNode, VersionView
from weightwatch.registry.access import Principal, may_manage, model_access
from weightwatch.registry.registry import DecisionView
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import (
    Attestation,
    DecisionProof,
    FileView,
    LogProof,
    ModelDetail,
    ModelSummary,
    VersionSummary,
)
from weightwatch.server.bounds import ROW_MAX, RowId

REPORT_KINDS = ("scan", "facts", "decision", "lineage", "fingerprint", "audit")


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry, store = ctx.registry, ctx.store

    @api.get("/models", response_model=list[ModelSummary], tags=["models"])
    def list_models(
        q: str = "",
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=ROW_MAX),
        who: Principal | None = ctx.anyone,
    ) -> list[ModelSummary]:
        """The newest version of each model the caller may see, by name; ``q`` filters."""
        rows = registry.newest_visible(who, search=q or None)
        return [
            ModelSummary(
                model=r.model,
                version=r.number,
                status=r.status,
                access=r.access,
                completed_at=r.completed_at,
            )
            for r in rows[offset : offset + limit]
        ]

    @api.get("/models/{ns}/{name}", response_model=ModelDetail, tags=["models"])
    def model_detail(ns: str, name: str, who: Principal | None = ctx.anyone) -> ModelDetail:
        newest = ctx.version(who, ns, name)
        ma = model_access(store, newest.model_id)
        return ModelDetail(
            model=ma.name,
            owner_org=ma.owner_org,
            gate_mode=ma.gate_mode,
            allowed_orgs=list(ma.allowed_orgs) if may_manage(store, who, ma.model_id) else None,
            versions=[
                VersionSummary(
                    version=r.number, status=r.status, access=r.access, completed_at=r.completed_at
                )
                for r in registry.visible_versions(who, ns, name)
            ],
        )

    @api.get("/models/{ns}/{name}/versions/{n}", response_model=VersionView, tags=["models"])
    def version(ns: str, name: str, n: RowId, who: Principal | None = ctx.anyone) -> VersionView:
        """Status, decision and its history, moderation, digests, and the lineage edges
        you may see."""
        return ctx.view(who, ctx.version(who, ns, name, n))

    @api.get(
        "/models/{ns}/{name}/versions/{n}/files", response_model=list[FileView], tags=["models"]
    )
    def files(ns: str, name: str, n: RowId, who: Principal | None = ctx.anyone) -> list[FileView]:
        r = ctx.version(who, ns, name, n)
        ctx.contents(who, r)
        return [FileView(path=f.path, size=f.size, sha256=f.sha256) for f in registry.files(r.id)]

    @api.get("/models/{ns}/{name}/versions/{n}/reports/{kind}", tags=["models"])
    def version_report(
        ns: str, name: str, n: RowId, kind: str, who: Principal | None = ctx.anyone
    ) -> Any:
        """A stored report as JSON: ``scan``, ``facts``, ``decision``, ``lineage``,
        ``fingerprint`` or ``audit``."""
        r = ctx.version(who, ns, name, n)
        if kind not in REPORT_KINDS:
            raise HTTPException(404, f"no report kind {kind!r}; one of {', '.join(REPORT_KINDS)}")
        ctx.contents(who, r)
        body = registry.report(r.id, kind)
        if body is None:
            raise HTTPException(404, f"{ns}/{name}@{n} has no {kind} report")
        return registry.redacted(who, body)

    @api.get(
        "/models/{ns}/{name}/versions/{n}/decisions",
        response_model=list[DecisionView],
        tags=["models"],
    )
    def decisions(
        ns: str, name: str, n: RowId, who: Principal | None = ctx.anyone
    ) -> list[DecisionView]:
        """Every decision about the version, oldest first, with its log index."""
        return ctx.view(who, ctx.version(who, ns, name, n)).history

    @api.get(
        "/models/{ns}/{name}/versions/{n}/attestation", response_model=Attestation, tags=["models"]
    )
    def attestation(
        ns: str, name: str, n: RowId, who: Principal | None = ctx.anyone
    ) -> Attestation:
        """The signed DSSE bundle over the manifest, and log proofs for it and for the
        latest logged event (decision or takedown), under one signed checkpoint (check
        with ``weightwatch log verify``). Withheld (403) like the file list while the
        version is taken down: the bundle's manifest lists every file and digest."""
        r = ctx.version(who, ns, name, n)
        ctx.contents(who, r)
        a = registry.attestation(r.id)
        if a is None:
            raise HTTPException(404, f"{ns}/{name}@{n} has no attestation")
        proof = registry.decision_proof(r.label)
        size = checkpoint_size(proof["checkpoint"])
        return Attestation(
            model=r.label,
            key_id=a.key_id,
            log_index=a.log_index,
            bundle=json.loads(a.bundle),
            attestation_proof=LogProof(
                index=a.log_index,
                size=size,
                hashes=[h.hex() for h in store.log.inclusion_proof(a.log_index, size)],
                checkpoint=proof["checkpoint"],
            ),
            decision_proof=DecisionProof(**proof),
        )

    @api.get("/models/{ns}/{name}/lineage", response_model=TreeNode, tags=["models"])
    def lineage(ns: str, name: str, who: Principal | None = ctx.anyone) -> TreeNode:
        """The newest visible version's descendants (declared and detected) as a tree."""
        return registry.visible_tree(who, ctx.version(who, ns, name).label)
