"""Turn a version's registry context into a policy decision.

Interim rules until the declarative policy engine (``weightwatch.policy``) is wired in;
they implement the default policy's registry-facing part: a malicious scan blocks, a
taken-down or quarantined parent quarantines, a gated or restricted parent passes its
tier on, and lineage the card does not declare gates with a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORDER = ("publish", "gate", "quarantine", "block")


def _strictest(a: str, b: str) -> str:
    return a if ORDER.index(a) >= ORDER.index(b) else b


def evaluate_version(work: Path, context: dict[str, Any]) -> tuple[str, list[str]]:
    action, reasons = "publish", []
    scan = context.get("scan") or {}
    if scan.get("verdict") == "malicious":
        worst = [
            f"{f['rule_id']} in {f['location']['file']}"
            for fr in scan.get("files", [])
            for f in fr.get("findings", [])
            if f.get("severity") in ("high", "critical")
        ]
        action = "block"
        reasons.append(f"scan: code execution in the files ({'; '.join(worst[:3])})")
    elif scan.get("verdict") in ("suspicious", "error"):
        action = _strictest(action, "quarantine")
        reasons.append(f"scan verdict {scan.get('verdict')}: needs review")
    for parent in context.get("parents", []):
        status, name = parent["status"], parent["name"]
        if status in ("taken_down", "blocked"):
            action = _strictest(action, "quarantine")
            reasons.append(f"lineage: derived from {name}, which is {status.replace('_', ' ')}")
        elif status == "quarantined":
            action = _strictest(action, "quarantine")
            reasons.append(f"lineage: derived from {name}, which is quarantined")
        elif status in ("gated", "restricted"):
            action = _strictest(action, "gate")
            reasons.append(f"lineage: derived from {name}, which is {status}")
    lineage = context.get("lineage") or {}
    detected = (lineage.get("detected") or {}).get("parents", [])
    declared = set(lineage.get("declared") or [])
    for p in detected:
        base = p["name"].rsplit("@", 1)[0]
        if base not in declared:
            action = _strictest(action, "gate")
            reasons.append(
                f"lineage: weights derive from {p['name']} ({p['relation']}, "
                f"p = {p['p_value']:.2g}) but the card does not declare it as base_model"
            )
    if not reasons:
        reasons.append("no policy rule applies")
    return action, reasons
