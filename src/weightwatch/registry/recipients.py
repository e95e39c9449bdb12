"""Recipient-traceable copies: who gets which bytes of a version served as marked copies.

A version with a recipient marking (``enable``) is served to each *recipient* — a signed-in
caller who may download it and neither owns the model nor is staff — as a copy whose
marked files carry the recipient's own GaussMark key (``watermark.recipients``). Owners
and staff get the original; the anonymous public reaches only published versions. The
rule is one function, ``recipient``; the Hub routes only map ``served_files``.

A copy is materialised on the recipient's first request for any file (metadata, HEAD or
GET): each changed file is marked, stored as a content-addressed blob and recorded in
``recipient_copies`` (the original, the copy's digest, the key's public id). Unchanged
files are the original blobs. Marking is deterministic, so a copy whose blob went missing
is rebuilt to the same digest (and refused if it differs). The master secret is the
registry's (``keys/watermark-master.json``, created on first use, readable by the owner
only); keys are derived when needed and never stored or sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from weightwatch.attest.bundle import sign_statement
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import queries, schema
from weightwatch.registry.access import Principal, model_access
from weightwatch.registry.queries import CopyRow, FileRow, VersionRow
from weightwatch.registry.store import Store, now
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.recipients import (
    RECIPIENT_SIGMA,
    TRACE_ALPHA,
    CopyDerivation,
    DerivationRecord,
    RecipientMarking,
    RecipientTrace,
    derivation_statement,
    mark_file,
    marking_for,
)

MASTER_FILE = "watermark-master.json"
#: the recipient whose copy callers who are not signed in share (not a possible user
#: name, so no account can be mistaken for it)
ANONYMOUS = "*anonymous*"
HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header larger than this is refused


@dataclass(frozen=True)
class Served:
    """What one path of a version is for one caller: the original, or their copy."""

    path: str
    sha256: str
    size: int
    key_id: str | None  # the copy's key id; None for the original


def master_secret(store: Store) -> MasterSecret:
    """The registry's watermark master secret (made on first use; never leaves the host)."""
    path = store.root / "keys" / MASTER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{MASTER_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        MasterSecret.generate().save(tmp)  # whole before it has its name: no torn reads
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(tmp, path)
        tmp.unlink()
    return MasterSecret.load(path)


def marking(store: Store, version_id: int) -> RecipientMarking | None:
    with store.engine.connect() as conn:
        doc = queries.recipient_marking(conn, version_id)
    return None if doc is None else RecipientMarking.model_validate_json(doc)


def _header_shapes(store: Store, f: FileRow) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a stored safetensors file's header (no tensor data read)."""
    head = store.blobs.read(f.sha256, 8)
    if len(head) < 8:
        raise RegistryError(f"{f.path}: not a safetensors file (shorter than its header)")
    (n,) = struct.unpack("<Q", head)
    if n > min(HEADER_LIMIT, f.size - 8):
        raise RegistryError(f"{f.path}: safetensors header of {n} bytes is out of bounds")
    try:
        doc = json.loads(store.blobs.read(f.sha256, 8 + n)[8:])
        return {
            k: tuple(int(x) for x in v["shape"])
            for k, v in doc.items()
            if k != "__metadata__" and isinstance(v, dict)
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RegistryError(f"{f.path}: unreadable safetensors header: {exc}") from exc


def plan(
    store: Store,
    version_id: int,
    label: str,
    *,
    deployment: str | None = None,
    sigma: float | None = None,
    required_by: Sequence[str] = (),
) -> RecipientMarking:
    """The marking of a version's stored safetensors files (headers read, nothing stored)."""
    with store.engine.connect() as conn:
        files = queries.files(conn, version_id)
    headers = {f.path: _header_shapes(store, f) for f in files if f.path.endswith(".safetensors")}
    if not headers:
        raise UsageError(f"{label} has no safetensors weights to mark")
    return marking_for(
        master_secret(store),
        deployment or label,
        headers,
        sigma=RECIPIENT_SIGMA if sigma is None else sigma,
        required_by=required_by,
    )


def record(conn: Connection, version_id: int, m: RecipientMarking) -> None:
    """Store a marking in the caller's transaction (IntegrityError: one exists)."""
    conn.execute(
        schema.recipient_marks.insert().values(
            version_id=version_id, record=m.model_dump_json(), created_at=now()
        )
    )


def enable(
    store: Store, version: VersionRow, *, deployment: str | None = None, sigma: float | None = None
) -> RecipientMarking:
    """Serve ``version`` to recipients as marked copies from now on (public record)."""
    if marking(store, version.id) is not None:
        raise RegistryError(f"{version.label} is already served as recipient copies")
    m = plan(store, version.id, version.label, deployment=deployment, sigma=sigma)
    try:
        with store.write.begin() as conn:
            record(conn, version.id, m)
    except IntegrityError as exc:
        raise RegistryError(f"{version.label} is already served as recipient copies") from exc
    return m


def required(
    store: Store, version_id: int, label: str, decision: Mapping[str, Any]
) -> RecipientMarking | None:
    """The marking a decision requires (``require: weight_watermark``) and the version
    lacks, to record with the decision; None when none is required or one exists."""
    rules = [
        str(r.get("rule_id"))
        for r in decision.get("requirements") or []
        if isinstance(r, dict) and r.get("requirement") == "weight_watermark"
    ]
    if not rules or marking(store, version_id) is not None:
        return None
    return plan(store, version_id, label, deployment=f"policy/{label}", required_by=rules)


def recipient(store: Store, who: Principal | None, version: VersionRow) -> str | None:
    """The recipient ``who`` is for ``version``'s copies, or None (they get
    the original). Owners and staff get the original; every anonymous caller gets the one
    ``ANONYMOUS`` copy (so no caller but owners and staff reaches the original, whatever
    the version's tier). Only for callers who may download (visibility decides first)."""
    if who is None:
        return ANONYMOUS
    if who.staff:
        return None
    ma = model_access(store, version.model_id)
    if who.owns(version.namespace, ma.owner_org):
        return None
    return who.user


def served_files(
    store: Store, who: Principal | None, version: VersionRow, files: Sequence[FileRow]
) -> list[Served]:
    """Each file as ``who`` is served it: their copy's marked files, else the originals.

    Call only after visibility allowed the download; materialises the copy if needed."""
    m = marking(store, version.id)
    user = recipient(store, who, version) if m is not None else None
    if m is None or user is None:
        return [Served(f.path, f.sha256, f.size, None) for f in files]
    with store.engine.connect() as conn:
        made = {c.path: c for c in queries.recipient_copies(conn, version.id, user=user)}
    out = []
    for f in files:
        if f.path not in m.files:
            out.append(Served(f.path, f.sha256, f.size, None))
            continue
        c = made.get(f.path)
        if c is None or not store.blobs.exists(c.sha256):
            c = _materialise(store, m, user, version, f, expected=c)
        out.append(Served(f.path, c.sha256, c.size, c.key_id))
    return out


def _materialise(
    store: Store,
    m: RecipientMarking,
    user: str,
    version: VersionRow,
    f: FileRow,
    *,
    expected: CopyRow | None,
) -> CopyRow:
    key = m.key(master_secret(store), user)
    with tempfile.TemporaryDirectory(dir=store.root, prefix="copy-") as tmp:
        src = store.blobs.local_path(f.sha256)
        if src is None:
            src = Path(tmp) / "original.safetensors"
            with src.open("wb") as fh:
                for chunk in store.blobs.chunks(f.sha256):
                    fh.write(chunk)
        out = Path(tmp) / "copy.safetensors"
        mark_file(src, out, scheme=m.build_scheme(), key=key, names=m.files[f.path])
        sha, size = store.blobs.put(out)
    if expected is not None:
        if expected.sha256 != sha:
            raise RegistryError(
                f"{version.label} {f.path}: rebuilt copy for {user} differs from the recorded "
                f"one ({sha[:12]} != {expected.sha256[:12]})"
            )
        return expected
    row = CopyRow(user, f.path, key.key_id, f.sha256, sha, size)
    try:
        with store.write.begin() as conn:
            conn.execute(
                schema.recipient_copies.insert().values(
                    version_id=version.id,
                    user=user,
                    path=f.path,
                    key_id=key.key_id,
                    original_sha256=f.sha256,
                    sha256=sha,
                    size=size,
                    created_at=now(),
                )
            )
    except IntegrityError:  # made at the same moment by another request: the same bytes
        pass
    return row


def copies(store: Store, version_id: int) -> list[CopyRow]:
    """Every recipient copy made of a version (the recipients a trace tests)."""
    with store.engine.connect() as conn:
        return queries.recipient_copies(conn, version_id)


def derivation(store: Store, who: Principal | None, version: VersionRow) -> dict[str, Any]:
    """The registry-signed derivation statement of ``who``'s copy (a DSSE bundle):
    each changed file's original digest, copy digest and key id — never the key."""
    m = marking(store, version.id)
    user = recipient(store, who, version) if m is not None and who is not None else None
    if m is None or user is None:
        raise RegistryError(f"{version.label}: no recipient copy for this caller")
    with store.engine.connect() as conn:
        originals = {f.path: f for f in queries.files(conn, version.id)}
    served = served_files(store, who, version, [originals[p] for p in sorted(m.files)])
    copy = CopyDerivation(
        version=version.label,
        commit=version.commit,
        deployment=m.deployment,
        scheme=m.scheme,
        params=m.params,
        recipient=user,
        files=tuple(
            DerivationRecord(
                path=s.path,
                original_sha256=originals[s.path].sha256,
                copy_sha256=s.sha256,
                size=s.size,
                key_id=str(s.key_id),
            )
            for s in served
        ),
    )
    return sign_statement(derivation_statement(copy), store.signer)


def trace(
    store: Store,
    version: VersionRow,
    *,
    token_ids: Sequence[int] | None = None,
    text: str | None = None,
    derivative: Path | None = None,
    alpha: float = TRACE_ALPHA,
) -> RecipientTrace:
    """Name the recipient whose copy produced a text (or a derivative model folder),
    among every recipient a copy was made for; the p-value is exact over all of them."""
    from weightwatch.watermark.detect import encode_text
    from weightwatch.watermark.weightdetect import detect_derivative, detect_text_weights
    from weightwatch.watermark.weightio import load_reference

    m = marking(store, version.id)
    if m is None:
        raise UsageError(f"{version.label} is not served as recipient copies")
    users = sorted({c.user for c in copies(store, version.id)})
    if not users:
        raise UsageError(f"{version.label}: no recipient copy has been made yet")
    master = master_secret(store)
    keys = [m.key(master, u) for u in users]
    by_key = dict(zip((k.key_id for k in keys), users, strict=True))
    with store.engine.connect() as conn:
        files = queries.files(conn, version.id)
    with tempfile.TemporaryDirectory(dir=store.root, prefix="trace-") as tmp:
        original = store.blobs.link_tree([(f.path, f.sha256) for f in files], Path(tmp) / "m")
        ref = load_reference(original, scheme=m.build_scheme())
        if derivative is not None:
            report = detect_derivative(derivative, ref, keys, alpha=alpha)
        else:
            ids = list(token_ids) if token_ids is not None else encode_text(text or "", original)
            report = detect_text_weights(ids, ref, keys, alpha=alpha)
    named = by_key[report.key_id] if report.verdict == "watermarked" else None
    return RecipientTrace(
        version=version.label, recipients_tested=len(keys), recipient=named, detection=report
    )


def trace_registered(
    store: Store, version: VersionRow, child: VersionRow, *, alpha: float = TRACE_ALPHA
) -> RecipientTrace:
    """Trace a registered version (e.g. one lineage found derived from ``version``) by
    its weights: whose copy of ``version`` was it made from?"""
    with store.engine.connect() as conn:
        files = queries.files(conn, child.id)
    with tempfile.TemporaryDirectory(dir=store.root, prefix="trace-child-") as tmp:
        folder = store.blobs.link_tree([(f.path, f.sha256) for f in files], Path(tmp) / "c")
        return trace(store, version, derivative=folder, alpha=alpha)


__all__ = [
    "ANONYMOUS",
    "MASTER_FILE",
    "Served",
    "copies",
    "derivation",
    "enable",
    "marking",
    "master_secret",
    "plan",
    "recipient",
    "record",
    "required",
    "served_files",
    "trace",
    "trace_registered",
]
