"""The transparency-log browser: entries a page at a time, newest first, and one entry
with its inclusion proof checked against the signed checkpoint."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from weightwatch.attest.checkpoint import checkpoint_size, verify_entry_offline
from weightwatch.attest.keys import KeyVerifier
from weightwatch.errors import RegistryError, WeightwatchError
from weightwatch.server.ui.common import Site

PAGE = 50  # log entries per page


def add_routes(ui: APIRouter, site: Site) -> None:
    """``/log`` and ``/log/{index}``."""
    store = site.store

    @ui.get("/log", response_class=HTMLResponse)
    def log(request: Request, page: int = 1) -> HTMLResponse:
        """Page ``page`` (1 = the newest entries); a page that is not a number answers
        the 422 error page, one past the end a 404 page."""
        size = store.log.size()
        note = site.registry.checkpoint() if size else ""
        pages = max(1, -(-size // PAGE))
        if not 1 <= page <= pages:
            return site.error(
                request,
                404,
                "Not found",
                f"There is no page {page} of the log (pages 1 to {pages}).",
            )
        page_no = page - 1
        stop = size - page_no * PAGE
        entries = []
        for e in store.log.entries(max(0, stop - PAGE), stop):
            body = json.loads(e.leaf).get("body", {})
            summary = ", ".join(
                f"{k}={body[k]}" for k in ("model", "action", "cause", "key_id") if k in body
            )
            entries.append(
                {
                    "index": e.index,
                    "kind": e.kind,
                    "created_at": e.created_at,
                    "summary": summary or e.kind,
                }
            )
        return site.page(
            request,
            "log.html",
            size=size,
            checkpoint=note,
            entries=list(reversed(entries)),
            page_no=page_no,
            pages=pages,
        )

    @ui.get("/log/{index}", response_class=HTMLResponse)
    def log_entry(request: Request, index: int) -> HTMLResponse:
        try:
            entry = store.log.entry(index)
        except RegistryError:
            return site.error(request, 404, "Not found", f"There is no log entry {index}.")
        note = site.registry.checkpoint()
        size = checkpoint_size(note)
        proof = store.log.inclusion_proof(index, size)
        verifier = KeyVerifier(store.signer.public_key, store.signer.key_id)
        try:
            verify_entry_offline(entry.leaf, index, proof, note, verifier)
            verified = "the proof verifies against the signed checkpoint"
        except WeightwatchError as exc:
            verified = f"the proof does NOT verify: {exc.message}"
        try:
            leaf = json.dumps(json.loads(entry.leaf), indent=2, sort_keys=True)
        except ValueError:
            leaf = entry.leaf.decode("utf-8", "replace")
        return site.page(
            request,
            "log_entry.html",
            entry=entry,
            leaf=leaf,
            leaf_hash=entry.leaf_hash.hex(),
            proof=[h.hex() for h in proof],
            checkpoint=note,
            size=size,
            verified=verified,
        )
