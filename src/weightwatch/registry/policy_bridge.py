"""Turn a version's registry context into facts, and facts into a policy decision.

Parents are described to the policy by what the registry holds about them: their
current status and access, and — from their own stored facts — their licence, the
licences they inherited and their training compute, so obligations and compute
thresholds follow a lineage across generations. The registry's policy is
``<registry>/policy.yaml`` when present, else the shipped default. Quarantine reasons a
reviewer released arrive as ``context["waive"]`` and are shown, marked, in the reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weightwatch.artifacts import open_artifact
from weightwatch.policy import Decision, Facts, Policy, build_facts, evaluate, load_policy

POLICY_FILE = "policy.yaml"


_POLICIES: dict[tuple[str, int], Policy] = {}


def registry_policy(root: Path) -> Policy:
    """The registry's policy, parsed once per file version (decisions are a hot path)."""
    path = root / POLICY_FILE
    stamp = (str(path), path.stat().st_mtime_ns) if path.is_file() else ("", 0)
    if stamp not in _POLICIES:
        _POLICIES[stamp] = load_policy(path if stamp[1] else None)
    return _POLICIES[stamp]


def parent_record(parent: dict[str, Any], parent_facts: dict[str, Any] | None) -> dict[str, Any]:
    """A ``ParentRecord`` mapping from an edge and the parent's stored facts."""
    record = {
        k: parent[k] for k in ("name", "status", "access", "kind", "relation", "score", "p_value")
    }
    if parent_facts:
        subject = parent_facts.get("subject", {})
        licence = parent_facts.get("licence", {})
        compute = parent_facts.get("compute", {})
        record["license"] = subject.get("declared_license")
        record["license_name"] = subject.get("license_name")
        record["inherited_licences"] = tuple(
            str(s["licence"]) for s in licence.get("applicable", []) if s.get("licence")
        )
        record["training_compute_flop"] = compute.get("own_flop")
        record["files"] = tuple(parent_facts.get("_files", ())) or None
    return record


def evaluate_version(root: Path, work: Path, context: dict[str, Any]) -> tuple[Facts, Decision]:
    lineage = context.get("lineage") or {}
    facts = build_facts(
        open_artifact(work),
        name=context["label"].rsplit("@", 1)[0],
        access=context["access"],
        scan=context.get("scan"),
        lineage=lineage.get("detected"),
        parents=[parent_record(p, p.get("facts")) for p in context.get("parents", [])],
        audit=context.get("audit"),
    )
    return facts, evaluate(facts, registry_policy(root), waive=context.get("waive", ()))


def status_of(decision: Decision) -> str:
    """The access tier a decision leaves a version in."""
    if decision.action == "block":
        return "blocked"
    if decision.action == "quarantine":
        return "quarantined"
    return {"public": "published", "gated": "gated", "restricted": "restricted"}[decision.access]


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
