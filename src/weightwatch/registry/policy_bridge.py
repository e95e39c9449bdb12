"""Turn a version's registry context into facts, and facts into a policy decision.

The registry describes a version as a :class:`~weightwatch.policy.PolicyContext`
(``decide.py`` builds it). Parents are described to the policy by what the registry
holds about them: their current status and access, and — from their own stored facts —
their licence, the licences they inherited and their training compute, so obligations
and compute thresholds follow a lineage across generations. The registry's policy is
``<registry>/policy.yaml`` when present, else the shipped default. Quarantine reasons a
reviewer released arrive as ``context.waive`` and are shown, marked, in the reasons.
"""

from __future__ import annotations

from pathlib import Path

from weightwatch.artifacts import open_artifact
from weightwatch.policy import (
    Decision,
    Facts,
    Policy,
    PolicyContext,
    context_facts,
    evaluate,
    load_policy,
)
from weightwatch.registry.states import Status

POLICY_FILE = "policy.yaml"


_POLICIES: dict[tuple[str, int], Policy] = {}


def registry_policy(root: Path) -> Policy:
    """The registry's policy, parsed once per file version (decisions are a hot path)."""
    path = root / POLICY_FILE
    stamp = (str(path), path.stat().st_mtime_ns) if path.is_file() else ("", 0)
    if stamp not in _POLICIES:
        _POLICIES[stamp] = load_policy(path if stamp[1] else None)
    return _POLICIES[stamp]


def evaluate_version(root: Path, work: Path, context: PolicyContext) -> tuple[Facts, Decision]:
    """Facts for the version in ``work`` as ``context`` describes it, judged by the
    registry's policy with the context's waived quarantine reasons."""
    facts = context_facts(open_artifact(work, require_weights=False), context)
    return facts, evaluate(facts, registry_policy(root), waive=context.waive)


_TIER = {"public": Status.PUBLISHED, "gated": Status.GATED, "restricted": Status.RESTRICTED}


def status_of(decision: Decision) -> Status:
    """The access tier a decision leaves a version in."""
    if decision.action == "block":
        return Status.BLOCKED
    if decision.action == "quarantine":
        return Status.QUARANTINED
    return _TIER[decision.access]


def reason_lines(decision: Decision, *, released_by: tuple[str, str] | None = None) -> list[str]:
    """Human-readable reasons, strictest first; then the quarantine reasons a reviewer
    released (``released_by`` is who and why), marked; warnings (publish-level) last."""
    order = {"block": 0, "quarantine": 1, "gate": 2, "publish": 3}
    ranked = sorted(decision.reasons, key=lambda r: order.get(r.action, 9))
    lines = [f"{r.message} [{r.rule_id}]" for r in ranked if r.action != "publish"]
    if decision.waived:
        if released_by is not None:
            lines.append(f"released by {released_by[0]}: {released_by[1]}")
        lines += [f"released: {r.message} [{r.rule_id}]" for r in decision.waived]
    lines += [f"warning: {r.message} [{r.rule_id}]" for r in ranked if r.action == "publish"]
    return lines or ["no policy rule applies"]
