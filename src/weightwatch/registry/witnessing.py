"""The registry's log as witnesses see it: its origin, its note key, and collecting
witness cosignatures on its checkpoints (``tlog-witness``, the log's side)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ed25519

from weightwatch.attest.note import NoteKey, parse_checkpoint_text, split_note
from weightwatch.attest.tlog_client import WitnessEndpoint, request_cosignatures
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry.store import ORIGIN_FILE, Store


def log_key(store: Store) -> NoteKey:
    """The note key checkpoints are signed with (name = the log's origin)."""
    pub = store.signer.public_key
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise RegistryError("the registry's log key is not Ed25519")
    return NoteKey.of(store.origin, pub)


def set_origin(store: Store, origin: str) -> None:
    """Name the log (before its first checkpoint: a signed head never changes origin)."""
    NoteKey(origin, "ed25519", b"\0" * 32)  # the same rules as a note key name
    if origin == store.origin:
        return
    if store.log.checkpoints():
        raise UsageError(f"the log already signed checkpoints as {store.origin!r}")
    (store.root / ORIGIN_FILE).write_text(origin + "\n")


def _last_cosigned(store: Store) -> dict[tuple[str, bytes], int]:
    """For each witness key (name, key ID), the largest size whose stored checkpoint
    carries its cosignature: read once per round, whatever the number of witnesses."""
    best: dict[tuple[str, bytes], int] = {}
    for size, _root, note in store.log.checkpoints():
        for s in split_note(note)[1]:
            best[(s.name, s.key_id)] = max(best.get((s.name, s.key_id), 0), size)
    return best


def cosign(
    store: Store, note: str, witnesses: Sequence[WitnessEndpoint]
) -> tuple[str, dict[str, str]]:
    """Ask each witness to cosign ``note`` (the log's current checkpoint); store the
    cosignatures with it. Returns the note as now stored and each refusal."""
    _origin, size, _root = parse_checkpoint_text(split_note(note)[0])
    cosigned = _last_cosigned(store)
    lines, refusals = request_cosignatures(
        note,
        size,
        witnesses,
        lambda old: store.log.consistency_proof(old, size),
        guess=lambda key: cosigned.get((key.name, key.key_id), 0),
    )
    return (store.log.add_cosignatures(size, lines) if lines else note), refusals
