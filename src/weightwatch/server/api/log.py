"""The transparency log: checkpoint, key, entries, inclusion and consistency proofs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from weightwatch.attest.checkpoint import checkpoint_size
from weightwatch.attest.keys import public_pem
from weightwatch.errors import RegistryError
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import Consistency, LogEntry, LogProof
from weightwatch.server.bounds import ROW_MAX, RowId

PAGE = 100  # log entries per page, at most


def add_routes(api: APIRouter, ctx: Api) -> None:
    registry, store = ctx.registry, ctx.store

    def entry(i: int) -> LogEntry:
        try:
            e = store.log.entry(i)
        except RegistryError:
            raise HTTPException(404, f"no log entry {i}") from None
        return LogEntry(
            index=e.index,
            kind=e.kind,
            leaf=e.leaf.decode("utf-8", "replace"),
            leaf_hash=e.leaf_hash.hex(),
            created_at=e.created_at,
        )

    @api.get("/log/checkpoint", response_class=PlainTextResponse, tags=["log"])
    def checkpoint() -> str:
        """The log's current signed tree head (C2SP signed note)."""
        return registry.checkpoint()

    @api.get("/log/key", response_class=PlainTextResponse, tags=["log"])
    def log_key() -> str:
        """The log's Ed25519 public key (PEM), for ``weightwatch log verify --pub``."""
        return public_pem(store.signer.public_key).decode()

    @api.get("/log/entries", response_model=list[LogEntry], tags=["log"])
    def entries(
        start: int = Query(0, ge=0, le=ROW_MAX), end: int | None = Query(None, ge=0, le=ROW_MAX)
    ) -> list[LogEntry]:
        """Entries ``start`` to ``end`` (exclusive), at most 100 per page."""
        stop = min(end if end is not None else start + PAGE, start + PAGE)
        if stop < start:
            raise HTTPException(400, f"end ({end}) is before start ({start})")
        return [entry(e.index) for e in store.log.entries(start, stop)]

    @api.get("/log/entries/{i}", response_model=LogEntry, tags=["log"])
    def one_entry(i: RowId) -> LogEntry:
        return entry(i)

    @api.get("/log/entries/{i}/proof", response_model=LogProof, tags=["log"])
    def inclusion(i: RowId, size: int | None = Query(None, ge=1, le=ROW_MAX)) -> LogProof:
        """Inclusion of entry ``i`` in the tree of ``size`` entries (default: the current
        signed checkpoint, which is returned too)."""
        note = None
        if size is None:
            note = registry.checkpoint()
            size = checkpoint_size(note)
        try:
            hashes = store.log.inclusion_proof(i, size)
        except RegistryError as exc:
            raise HTTPException(400, exc.message) from None
        return LogProof(index=i, size=size, hashes=[h.hex() for h in hashes], checkpoint=note)

    @api.get("/log/consistency", response_model=Consistency, tags=["log"])
    def consistency(
        first: int = Query(ge=1, le=ROW_MAX), second: int | None = Query(None, ge=1, le=ROW_MAX)
    ) -> Consistency:
        """That the tree of ``second`` entries (default: the current checkpoint) extends the
        tree of ``first`` entries."""
        note = None
        if second is None:
            note = registry.checkpoint()
            second = checkpoint_size(note)
        try:
            hashes = store.log.consistency_proof(first, second)
            roots = store.log.root(first), store.log.root(second)
        except RegistryError as exc:
            raise HTTPException(400, exc.message) from None
        return Consistency(
            first=first,
            second=second,
            first_root=roots[0].hex(),
            second_root=roots[1].hex(),
            hashes=[h.hex() for h in hashes],
            checkpoint=note,
        )
