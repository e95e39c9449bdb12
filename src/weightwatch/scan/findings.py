"""Findings and reports: what the scanner says about each file, in a stable JSON form."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field

from weightwatch.reports import Record, Report


class Severity(str, enum.Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    # A str enum would otherwise compare alphabetically ("high" > "critical").
    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Verdict(str, enum.Enum):
    CLEAN = "clean"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"
    ERROR = "error"


class Location(Record):
    file: str
    member: str | None = None  # archive entry, or "pickle #2" for a later stream
    offset: int | None = None  # byte offset of the opcode or structure


class Finding(Record):
    rule_id: str
    severity: Severity
    title: str
    location: Location
    explanation: str
    remediation: str
    callable: str | None = None  # e.g. "posix.system"
    evidence: dict[str, Any] = Field(default_factory=dict)


class FileReport(Record):
    path: str
    format: str
    findings: list[Finding]
    error: str | None = None  # why the file could not be fully read

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.findings, error=self.error is not None)


class ScanReport(Report):
    files: list[FileReport]

    @property
    def verdict(self) -> Verdict:
        worst = [f.verdict for f in self.files]
        for v in (Verdict.MALICIOUS, Verdict.ERROR, Verdict.SUSPICIOUS):
            if v in worst:
                return v
        return Verdict.CLEAN

    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings]

    def to_json(self) -> dict[str, Any]:
        """The stored fields plus the verdicts (the report's and each file's)."""
        doc = self.model_dump(mode="json")
        doc["verdict"] = self.verdict.value
        for fr, doc_fr in zip(self.files, doc["files"], strict=True):
            doc_fr["verdict"] = fr.verdict.value
        return doc


def verdict_of(findings: list[Finding], *, error: bool) -> Verdict:
    """High or critical -> malicious; unreadable -> error; medium -> suspicious."""
    worst = max((f.severity.rank for f in findings), default=-1)
    if worst >= Severity.HIGH.rank:
        return Verdict.MALICIOUS
    if error:
        return Verdict.ERROR
    if worst >= Severity.MEDIUM.rank:
        return Verdict.SUSPICIOUS
    return Verdict.CLEAN
