"""Audit results as evidence: an in-toto statement bound to the audited weights, signed.

A base-vs-derivative comparison becomes an in-toto Statement v1 whose subjects are the two
models' *weights digests* (``identity``'s Merkle root over tensor names, dtypes, shapes and
bytes: the same for any container the tensors are stored in), so the result is about these
exact weights and no others. The predicate carries the verdict, the p-values, each attack's
headline rate and the SHA-256 of the whole report. The statement is signed in a DSSE
envelope by ``attest.bundle.sign_statement`` (the same envelope as signed models).

``verify_comparison`` checks offline: the signature, that both subjects match the weights
on disk (one changed byte in a tensor changes the digest), and — when the bundle carries
the registry's log proof — the signed checkpoint and the entry's inclusion under it, and
that the logged entry names this very envelope.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from weightwatch.attest.bundle import STATEMENT_TYPE, open_bundle, sign_statement
from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import KeyVerifier, Signer, Verifier
from weightwatch.audit.derivative import DerivativeReport
from weightwatch.errors import VerificationError
from weightwatch.identity import compute_manifest

PREDICATE_COMPARISON = "urn:weightwatch:audit:comparison:v1"
DIGEST_ALGORITHM = "weightwatch-weights-v1"  # identity's weights digest (SHA-256 Merkle root)
LOG_KEY = "weightwatchLog"  # where a registry puts the log proof in the bundle


def weights_digest(path: str | os.PathLike[str]) -> str:
    """The format-invariant weights digest of a model folder or file."""
    digest = compute_manifest(path, tensors=True).weights_digest
    if digest is None:
        raise VerificationError(f"{os.fspath(path)}: no tensors to bind an audit to")
    return digest


def report_digest(report: DerivativeReport) -> str:
    """SHA-256 of the report's canonical JSON (sorted keys, compact)."""
    doc = report.model_dump(mode="json")
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def comparison_statement(
    report: DerivativeReport, *, base_weights: str, derivative_weights: str
) -> dict[str, Any]:
    """The in-toto statement for a comparison of the models with these weights digests."""
    summary = report.summary().model_dump(mode="json")
    headline = {r.attack: r.headline.model_dump(mode="json") for r in report.derivative.attacks}
    agreement = report.base.judge_agreement
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": "base", "digest": {DIGEST_ALGORITHM: base_weights}},
            {"name": "derivative", "digest": {DIGEST_ALGORITHM: derivative_weights}},
        ],
        "predicateType": PREDICATE_COMPARISON,
        "predicate": {
            "summary": summary,
            "derivative_headline": headline,
            "judge": None
            if agreement is None
            else {
                "name": agreement.judge,
                "n": agreement.n,
                "sensitivity_counts": [agreement.true_positives, agreement.positives],
                "specificity_counts": [agreement.true_negatives, agreement.negatives],
            },
            "suite": report.base.suite,
            "settings": report.base.settings.model_dump(mode="json"),
            "report_sha256": report_digest(report),
        },
    }


def sign_comparison(
    report: DerivativeReport,
    signer: Signer,
    *,
    base: str | os.PathLike[str],
    derivative: str | os.PathLike[str],
) -> dict[str, Any]:
    """Hash both models' weights, bind the comparison to them, and sign it (DSSE bundle)."""
    stmt = comparison_statement(
        report, base_weights=weights_digest(base), derivative_weights=weights_digest(derivative)
    )
    return sign_statement(stmt, signer)


def envelope_digest(bundle: dict[str, Any]) -> str:
    """SHA-256 over the signed envelope's payload and signatures: what the log records."""
    try:
        env = bundle["dsseEnvelope"]
        text = json.dumps(
            {"payload": env["payload"], "signatures": env["signatures"]},
            sort_keys=True,
            separators=(",", ":"),
        )
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"not a DSSE bundle: {exc}") from exc
    return hashlib.sha256(text.encode()).hexdigest()


def open_comparison(bundle: dict[str, Any], verifier: Verifier) -> dict[str, Any]:
    """Check the envelope's signature; the comparison statement it carries."""
    try:
        return open_bundle(bundle, verifier, predicate_types=(PREDICATE_COMPARISON,))
    except VerificationError as exc:
        raise VerificationError(f"audit signature invalid: {exc}") from exc


def subject_digests(stmt: dict[str, Any]) -> dict[str, str]:
    """``{"base": digest, "derivative": digest}`` from a comparison statement."""
    try:
        return {s["name"]: s["digest"][DIGEST_ALGORITHM] for s in stmt["subject"]}
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"malformed audit subjects: {exc}") from exc


@dataclass(frozen=True)
class AuditVerification:
    """What ``verify_comparison`` found; ``ok`` only if every check that ran held."""

    key_id: str
    verdict: str
    base_ok: bool
    derivative_ok: bool
    logged: bool  # a log proof was present and checked
    log_index: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.base_ok and self.derivative_ok and not self.problems


def verify_comparison(
    bundle: dict[str, Any],
    verifier: Verifier,
    *,
    base: str | os.PathLike[str],
    derivative: str | os.PathLike[str],
    log_verifier: Verifier | None = None,
    require_log: bool = False,
) -> AuditVerification:
    """Offline: signature, both weights digests, and the log proof when there is one."""
    stmt = open_comparison(bundle, verifier)
    subjects = subject_digests(stmt)
    problems: list[str] = []
    base_ok = subjects.get("base") == weights_digest(base)
    derivative_ok = subjects.get("derivative") == weights_digest(derivative)
    if not base_ok:
        problems.append(f"{os.fspath(base)}: weights differ from the audited base")
    if not derivative_ok:
        problems.append(f"{os.fspath(derivative)}: weights differ from the audited derivative")
    proof = bundle.get(LOG_KEY)
    logged, index = False, None
    if proof is not None:
        if log_verifier is None:
            problems.append("the bundle carries a log proof but no log key was given")
        else:
            index = _check_log_proof(proof, bundle, stmt, log_verifier, problems)
            logged = index is not None
    elif require_log:
        problems.append("no log proof: the audit was not appended to a registry's log")
    return AuditVerification(
        key_id=verifier.key_id,
        verdict=str(stmt["predicate"].get("summary", {}).get("verdict")),
        base_ok=base_ok,
        derivative_ok=derivative_ok,
        logged=logged,
        log_index=index,
        problems=problems,
    )


def _check_log_proof(
    proof: Any,
    bundle: dict[str, Any],
    stmt: dict[str, Any],
    log_verifier: Verifier,
    problems: list[str],
) -> int | None:
    try:
        index = int(proof["index"])
        leaf = str(proof["leaf"]).encode()
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        note = str(proof["checkpoint"])
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"malformed log proof: {exc}")
        return None
    if not isinstance(log_verifier, KeyVerifier):
        problems.append("the log key must be an Ed25519 public key")
        return None
    try:
        verify_entry_offline(leaf, index, hashes, note, log_verifier)
    except VerificationError as exc:
        problems.append(f"log proof: {exc}")
        return None
    try:
        body = json.loads(leaf)["body"]
    except (ValueError, KeyError, TypeError):
        problems.append("the logged entry is not a weightwatch log entry")
        return None
    if body.get("envelope_sha256") != envelope_digest(bundle):
        problems.append("the logged entry names another audit envelope")
        return None
    if body.get("derivative_weights") != subject_digests(stmt).get("derivative"):
        problems.append("the logged entry names other derivative weights")
        return None
    return index
