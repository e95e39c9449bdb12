"""Talking to tiled logs and witnesses over HTTP (the I/O edge of ``tiles``/``witness``).

* :class:`LogClient` reads a log served as C2SP tiles: it accepts a checkpoint only when
  the log's key signed it and ``min_witnesses`` of the given witnesses cosigned it, then
  computes inclusion and consistency proofs itself from tiles. With a :class:`TrustState`
  file it remembers the last checkpoint it accepted per log and refuses one that does not
  extend it — two copies of a log that diverged (a split view) cannot both be accepted.
* :func:`request_cosignatures` is the log's side of ``tlog-witness``: it submits a
  checkpoint with a consistency proof to each witness, learns a witness's size from a 409
  and retries once, and keeps only cosignature lines that verify.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from weightwatch.attest.note import (
    NoteKey,
    OpenedCheckpoint,
    open_checkpoint,
    split_note,
    verified_keys,
)
from weightwatch.attest.tiles import HASH, MAX_ENTRY, WIDTH, Tile, TiledTree, unbundle
from weightwatch.attest.witness import SIZE_TYPE, request_body
from weightwatch.errors import ServiceError, UsageError, VerificationError
from weightwatch.merkle import leaf_hash, verify_consistency, verify_inclusion

TIMEOUT = 30.0
MAX_TILE = WIDTH * HASH
MAX_BUNDLE = WIDTH * (2 + MAX_ENTRY)  # an entry bundle: u16 length and entry, each
MAX_CHECKPOINT = 64 << 10


def _get(http: httpx.Client, url: str, limit: int) -> bytes:
    try:
        with http.stream("GET", url) as r:
            if r.status_code != 200:
                raise ServiceError(f"GET {url}: HTTP {r.status_code}")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise VerificationError(f"GET {url}: response over {limit} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise ServiceError(f"GET {url}: {exc}") from exc


@dataclass
class LogClient:
    """A tiled log at ``prefix`` (``…/tlog``), trusted through ``log_key`` and witnesses."""

    prefix: str
    log_key: NoteKey
    witnesses: Sequence[NoteKey] = ()
    min_witnesses: int = 0
    http: httpx.Client | None = None
    # tiles never change, so one tree per size serves every proof asked of it
    _trees: dict[int, TiledTree] = field(default_factory=dict, repr=False)

    def _client(self) -> httpx.Client:
        if self.http is None:
            self.http = httpx.Client(timeout=TIMEOUT)
        return self.http

    def checkpoint(self) -> tuple[OpenedCheckpoint, str]:
        note = _get(self._client(), f"{self.prefix}/checkpoint", MAX_CHECKPOINT).decode()
        cp = open_checkpoint(
            note, self.log_key, witnesses=self.witnesses, min_witnesses=self.min_witnesses
        )
        return cp, note

    def tree(self, size: int) -> TiledTree:
        def fetch(tile: Tile) -> bytes:
            return _get(self._client(), f"{self.prefix}/{tile.path}", MAX_TILE)

        if size not in self._trees:
            self._trees[size] = TiledTree(size, fetch)
        return self._trees[size]

    def check_root(self, cp: OpenedCheckpoint) -> None:
        """That the tiles hash to the checkpoint's root (the log serves what it signed)."""
        if cp.size and self.tree(cp.size).root() != cp.root:
            raise VerificationError(f"{self.prefix}: tiles do not hash to the checkpoint root")

    def check_extends(self, old_size: int, old_root: bytes, cp: OpenedCheckpoint) -> None:
        """That ``cp`` extends the tree ``(old_size, old_root)``, from proofs built of tiles."""
        if old_size == 0:
            return
        if cp.size < old_size:
            raise VerificationError(
                f"{cp.origin}: checkpoint at size {cp.size} is older than the {old_size} seen"
            )
        proof = self.tree(cp.size).consistency_proof(old_size) if cp.size > old_size else []
        try:
            verify_consistency(old_size, cp.size, old_root, cp.root, proof)
        except VerificationError as exc:
            raise VerificationError(
                f"{cp.origin}: checkpoint at size {cp.size} does not extend the one seen at "
                f"size {old_size} (split view or rewritten log): {exc.message}"
            ) from None

    def entry(self, index: int, cp: OpenedCheckpoint) -> bytes:
        """Entry ``index`` from its bundle, proven included under ``cp``."""
        if not 0 <= index < cp.size:
            raise UsageError(f"entry {index} is not in a log of {cp.size} entries")
        n = index // WIDTH
        width = min(WIDTH, cp.size - n * WIDTH)
        data = _get(self._client(), f"{self.prefix}/{Tile(None, n, width).path}", MAX_BUNDLE)
        entries = unbundle(data)
        if len(entries) != width:
            raise VerificationError(f"entry bundle {n} holds {len(entries)} entries, not {width}")
        leaf = entries[index - n * WIDTH]
        tree = self.tree(cp.size)
        proof = tree.inclusion_proof(index)
        verify_inclusion(leaf_hash(leaf), index, cp.size, proof, cp.root)
        return leaf


@dataclass(frozen=True)
class TrustState:
    """The last checkpoint a client accepted per origin, in a JSON file."""

    path: Path

    def get(self, origin: str) -> tuple[int, bytes]:
        doc = self._read()
        seen = doc.get(origin)
        if seen is None:
            return 0, b""
        try:
            return int(str(seen["size"])), base64.b64decode(str(seen["root"]), validate=True)
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{self.path}: malformed entry for {origin!r} ({exc})") from exc

    def put(self, cp: OpenedCheckpoint, note: str) -> None:
        doc = self._read()
        doc[cp.origin] = {
            "size": cp.size,
            "root": base64.b64encode(cp.root).decode(),
            "checkpoint": note,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
        tmp.replace(self.path)

    def _read(self) -> dict[str, dict[str, object]]:
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.path}: not a log state file ({exc})") from exc
        if not isinstance(doc, dict):
            raise UsageError(f"{self.path}: not a log state file")
        return doc


def follow(client: LogClient, state: TrustState | None) -> tuple[OpenedCheckpoint, str]:
    """Fetch, verify and accept the log's checkpoint: signatures and witnesses, tiles that
    hash to its root, and consistency with the last checkpoint ``state`` accepted."""
    cp, note = client.checkpoint()
    client.check_root(cp)
    if state is not None:
        old_size, old_root = state.get(cp.origin)
        client.check_extends(old_size, old_root, cp)
        state.put(cp, note)
    return cp, note


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures: its submission URL prefix and key."""

    url: str
    key: NoteKey


def request_cosignatures(
    note: str,
    size: int,
    witnesses: Sequence[WitnessEndpoint],
    proof: Callable[[int], list[bytes]],
    *,
    guess: Callable[[NoteKey], int] = lambda _k: 0,
    http: httpx.Client | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Cosignature lines for ``note`` (a checkpoint of ``size``) from each witness that
    grants one, and why each other refused; ``proof(old)`` is a consistency proof."""
    if http is None:
        with httpx.Client(timeout=TIMEOUT) as own:
            return request_cosignatures(note, size, witnesses, proof, guess=guess, http=own)
    client = http
    lines: list[str] = []
    refusals: dict[str, str] = {}
    for w in witnesses:
        old = min(guess(w.key), size)
        for _attempt in range(2):
            body = request_body(old, proof(old) if 0 < old < size else [], note)
            try:
                r = client.post(f"{w.url.rstrip('/')}/add-checkpoint", content=body)
            except httpx.HTTPError as exc:
                refusals[w.key.name] = f"unreachable: {exc}"
                break
            ctype = r.headers.get("content-type", "")
            if r.status_code == 409 and ctype.startswith(SIZE_TYPE) and r.text.strip().isdigit():
                witness_size = int(r.text.strip())
                if witness_size > size or witness_size == old:
                    refusals[w.key.name] = f"409: witness is at size {witness_size}"
                    break
                old = witness_size
                continue
            if r.status_code != 200:
                refusals[w.key.name] = f"{r.status_code}: {r.text.strip()[:200]}"
                break
            got = [x for x in r.text.splitlines() if x]
            cosigned = note + "".join(x + "\n" for x in got)
            try:
                ok = w.key in verified_keys(cosigned, [w.key])
            except VerificationError as exc:
                refusals[w.key.name] = f"bad cosignature: {exc.message}"
                break
            if not ok:
                refusals[w.key.name] = "answered without a cosignature by its key"
                break
            _text, sigs = split_note(cosigned)  # keep only this witness key's (verified) lines
            lines += [
                x.line().rstrip("\n")
                for x in sigs
                if (x.name, x.key_id) == (w.key.name, w.key.key_id)
            ]
            break
    return lines, refusals
