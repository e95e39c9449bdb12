"""What the registry shows of a version: the typed views ``status --json``, the API and
the pages render (stable JSON, golden files in tests/goldens)."""

from __future__ import annotations

from weightwatch.reports import Record, Report


class DecisionView(Record):
    action: str
    status: str
    reasons: list[str]
    cause: str
    log_index: int | None
    created_at: str


class ModerationView(Record):
    """A takedown, reinstatement or release: who did it, why, when, its log entry."""

    action: str
    actor: str
    reason: str
    log_index: int
    created_at: str


class EdgeView(Record):
    model: str
    kind: str  # declared | detected
    relation: str
    score: float | None
    p_value: float | None


class VersionView(Report):
    """A version as ``status --json`` and the API show it: its current state first."""

    model: str  # namespace/name@number
    state: str
    status: str
    access: str
    weights_digest: str | None
    value_digest: str | None
    files: int
    scan_verdict: str | None
    decision: DecisionView | None
    history: list[DecisionView]
    moderation: list[ModerationView]  # takedowns, reinstatements, releases, oldest first
    parents: list[EdgeView]
    children: list[EdgeView]
    watermarks: list[str]  # "deployment (scheme): key id" of watermarked deployments
    error: str | None


class TreeNode(Record):
    model: str
    status: str
    relation: str | None
    kind: str | None  # declared | detected | declared+detected (one node per child)
    children: list[TreeNode]


class DecisionProof(Record):
    """The version's latest logged event (decision, takedown or reinstatement), its
    inclusion proof and the signed checkpoint the proof is against."""

    index: int
    leaf: str
    hashes: list[str]
    checkpoint: str
