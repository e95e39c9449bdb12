"""SARIF 2.1.0 for code-scanning dashboards (GitHub accepts it as uploaded)."""

from __future__ import annotations

from typing import Any

from weightwatch import __version__
from weightwatch.scan.findings import ScanReport, Severity
from weightwatch.scan.rules import RULES

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub sorts security alerts by this CVSS-like score.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def to_sarif(report: ScanReport) -> dict[str, Any]:
    used = sorted({f.rule_id for f in report.findings()})
    index = {rid: i for i, rid in enumerate(used)}
    rules = [
        {
            "id": rid,
            "name": rid.replace("-", ""),
            "shortDescription": {"text": RULES[rid].title},
            "fullDescription": {"text": RULES[rid].title},
            "help": {"text": RULES[rid].remediation},
            "defaultConfiguration": {"level": _LEVEL[RULES[rid].severity]},
            "properties": {
                "tags": ["security", "model-scanning"],
                "security-severity": _SECURITY_SEVERITY[RULES[rid].severity],
            },
        }
        for rid in used
    ]
    results = []
    for f in report.findings():
        region: dict[str, Any] = {"startLine": 1}
        if f.location.offset is not None and not f.location.member:
            region["byteOffset"] = f.location.offset
        where = f" in {f.location.member}" if f.location.member else ""
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": index[f.rule_id],
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.title}{where}: {f.explanation}. {f.remediation}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f.location.file},
                            "region": region,
                        }
                    }
                ],
                "properties": {
                    "severity": f.severity.value,
                    **({"callable": f.callable} if f.callable else {}),
                },
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "weightwatch",
                        "version": __version__,
                        "informationUri": "https://github.com/weightwatch/weightwatch",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
