"""Evidence attached to a version after registration — a safety audit (plain or signed
and logged) and a weight diff against a base — parsed and checked here, written by
:class:`Registry`, which then re-decides the version: each is a fact the policy weighs.

A signed audit is only accepted about the weights this version registered, and goes
into the transparency log beside the decisions, so an auditor's verdict cannot be
attached to a different model or quietly replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import queries
from weightwatch.registry.store import Store, now


def audit_doc(summary: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an audit comparison: the whole ``audit compare --json`` report
    or its summary, validated."""
    from weightwatch.audit.derivative import DerivativeReport, DerivativeSummary

    try:
        if "attacks" in summary:  # the whole report `weightwatch audit compare --json` writes
            parsed = DerivativeReport.model_validate(summary).summary()
        else:
            parsed = DerivativeSummary.model_validate(summary)
    except ValueError as exc:
        raise UsageError(f"not an audit comparison (audit compare --json): {exc}") from exc
    return parsed.model_dump(mode="json")


def log_signed_audit(
    store: Store, conn: Connection, vid: int, bundle: dict[str, Any], auditor: Any
) -> int:
    """Check a signed audit bundle against ``auditor``'s key and this version's registered
    weights, append it to the log and store it as the version's audit; the log index."""
    from weightwatch.audit.attestation import envelope_digest, open_comparison, subject_digests
    from weightwatch.audit.derivative import DerivativeSummary

    stmt = open_comparison(bundle, auditor)
    subjects = subject_digests(stmt)
    try:
        summary = DerivativeSummary.model_validate(stmt["predicate"]["summary"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"the signed audit carries no comparison summary: {exc}") from exc
    label = queries.version_label(conn, vid)
    registered = queries.version_weights_digest(conn, vid)
    if registered is None or registered != subjects.get("derivative"):
        raise RegistryError(
            f"{label}: the signed audit is about other weights "
            f"({str(subjects.get('derivative'))[:16]}…, registered {str(registered)[:16]}…)"
        )
    body = {
        "model": label,
        "verdict": summary.verdict.value,
        "base_weights": subjects.get("base"),
        "derivative_weights": subjects["derivative"],
        "envelope_sha256": envelope_digest(bundle),
        "auditor_key": auditor.key_id,
    }
    (idx,) = store.log.append_many([("audit", entry_leaf("audit", body, time=now()))], conn=conn)
    doc = {**summary.model_dump(mode="json"), "logged": True, "log_index": idx}
    doc["auditor_key"] = auditor.key_id
    queries.put_report(conn, vid, "audit", doc)
    return int(idx)


def attached_diff(report: dict[str, Any] | None) -> Any:
    """An attached ``weightwatch diff --json`` report, validated (None when none)."""
    from weightwatch.forensics import DiffReport

    if report is None:
        return None
    try:
        return DiffReport.model_validate(report)
    except ValueError as exc:
        raise UsageError(f"not a weight diff (weightwatch diff --json): {exc}") from exc


def compute_diff(
    store: Store, base: tuple[str, list[tuple[str, str]]], child: tuple[str, list[tuple[str, str]]]
) -> Any:
    """``forensics.diff_models`` over two versions' stored files — each given as (label,
    [(path, sha256)]) — linked, not copied, into a private temporary folder."""
    import tempfile

    from weightwatch.forensics import diff_models

    with tempfile.TemporaryDirectory(prefix="ww-forensics-") as tmp:
        folders = [
            store.blobs.link_tree(entries, Path(tmp) / which)
            for which, (_, entries) in (("base", base), ("derivative", child))
        ]
        report = diff_models(*folders)
    return report.model_copy(update={"base": base[0], "derivative": child[0]})


def forensics_doc(
    parsed: Any, attached: Any, base: str | None, *, computed: bool
) -> dict[str, Any]:
    """The stored form of a weight diff; where the registry computed it, what an attached
    report claimed beside it."""
    doc: dict[str, Any] = {
        "derivation": parsed.derivation,
        "base": base or parsed.base,
        "abliteration_score": parsed.abliteration_score,
        "direction_consistency": parsed.direction_consistency,
        "computed_by_registry": computed,
    }
    if computed and attached is not None:
        doc["attached_derivation"] = attached.derivation
    return doc
