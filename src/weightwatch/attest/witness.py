"""A C2SP ``tlog-witness``: verify that logs only grow, and cosign their checkpoints.

The witness knows each log by its origin and public key(s) and remembers the last
checkpoint it cosigned per origin. ``add-checkpoint`` requests carry the size the client
believes the witness is at, a consistency proof from that size, and the new checkpoint;
the witness answers with a cosignature (``tlog-cosignature`` v1) or refuses with the
status the spec names: 400 malformed, 403 no trusted signature, 404 unknown origin,
409 the old size is not the witness's (body: its size, ``text/x.tlog.size``) or the same
size with another root — a split view —, 422 the proof does not verify. Checking and
recording the new state is one write transaction, so two requests cannot roll it back.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from weightwatch.attest.note import (
    NoteKey,
    cosign,
    parse_checkpoint_text,
    split_note,
    verified_keys,
)
from weightwatch.db import make_engine, writer
from weightwatch.errors import VerificationError
from weightwatch.merkle import verify_consistency

MAX_PROOF = 63  # consistency proof lines a client may send
MAX_BODY = 16 << 10  # bytes: 63 proof lines and a checkpoint with many signatures fit
SIZE_TYPE = "text/x.tlog.size"

metadata = MetaData()
witnessed = Table(
    "witness_logs",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", String, nullable=False),  # the last checkpoint cosigned, kept as evidence
)


class WitnessRefusal(VerificationError):
    """A refused ``add-checkpoint``: the HTTP status, and the body the spec asks for."""

    def __init__(self, status: int, message: str, *, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else message + "\n"
        self.content_type = SIZE_TYPE if status == 409 and body is not None else "text/plain"


@dataclass(frozen=True)
class AddCheckpoint:
    old: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> AddCheckpoint:
    """An ``add-checkpoint`` body, strictly; ``WitnessRefusal(400)`` says what is wrong."""
    if len(body) > MAX_BODY:
        raise WitnessRefusal(413, f"request body over {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefusal(400, "request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise WitnessRefusal(400, "no blank line between the proof and the checkpoint")
    lines = head.split("\n")
    old_s = lines[0].removeprefix("old ")
    if not lines[0].startswith("old ") or not old_s.isdigit() or old_s != str(int(old_s)):
        raise WitnessRefusal(400, "the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise WitnessRefusal(400, f"more than {MAX_PROOF} consistency proof lines")
    try:
        proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
    except binascii.Error:
        raise WitnessRefusal(400, "a consistency proof line is not base64") from None
    if any(len(p) != 32 for p in proof):
        raise WitnessRefusal(400, "a consistency proof hash is not 32 bytes")
    return AddCheckpoint(int(old_s), proof, note)


def request_body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


@dataclass
class Witness:
    """A witness named ``name`` signing with ``key``, for the logs in ``logs`` (origin →
    the log's note keys), its state in the database at ``state_url``."""

    name: str
    key: ed25519.Ed25519PrivateKey
    logs: Mapping[str, Sequence[NoteKey]]
    state_url: str
    clock: Callable[[], float] = time.time
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.state_url)
        metadata.create_all(writer(self.engine), checkfirst=True)

    @property
    def note_key(self) -> NoteKey:
        return NoteKey.of(self.name, self.key.public_key(), "cosignature")

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(witnessed.c.size, witnessed.c.root).where(witnessed.c.origin == origin)
            ).first()
        return None if row is None else (int(row.size), bytes(row.root))

    def add_checkpoint(self, body: bytes) -> str:
        """Verify and cosign; returns the cosignature line(s), or raises ``WitnessRefusal``."""
        req = parse_request(body)
        first = req.note.split("\n", 1)[0]
        keys = self.logs.get(first)
        if keys is None:
            raise WitnessRefusal(404, f"unknown log origin {first[:100]!r}")
        try:  # a malformed note or checkpoint is a bad request ...
            text, _sigs = split_note(req.note)
            origin, size, root = parse_checkpoint_text(text)
        except VerificationError as exc:
            raise WitnessRefusal(400, exc.message) from None
        try:  # ... a signature that fails, or none by a trusted key, is forbidden
            trusted = verified_keys(req.note, list(keys))
        except VerificationError as exc:
            raise WitnessRefusal(403, exc.message) from None
        if not trusted:
            raise WitnessRefusal(403, "no signature by a key this witness trusts for the log")
        if req.old > size:
            raise WitnessRefusal(400, f"old size {req.old} is beyond the checkpoint's {size}")
        if req.old == 0 and req.proof:
            raise WitnessRefusal(400, "the proof must be empty from size 0")
        with writer(self.engine).begin() as conn:
            q = select(witnessed).where(witnessed.c.origin == origin)
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update()
            row = conn.execute(q).first()
            have, have_root = (int(row.size), bytes(row.root)) if row else (0, b"")
            if req.old != have:
                raise WitnessRefusal(409, f"witness is at size {have}", body=f"{have}\n")
            if have and size == have and root != have_root:
                raise WitnessRefusal(409, f"split view: size {size} with a different root")
            if have and size > have:
                try:
                    verify_consistency(have, size, have_root, root, req.proof)
                except VerificationError as exc:
                    raise WitnessRefusal(422, f"consistency proof fails: {exc.message}") from None
            elif req.proof:
                raise WitnessRefusal(422, "a proof between equal sizes must be empty")
            values = {"origin": origin, "size": size, "root": root, "note": req.note}
            dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(witnessed).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[witnessed.c.origin],
                    set_={"size": size, "root": root, "note": req.note},
                )
            )
        return cosign(text, self.name, self.key, int(self.clock())).line()
