"""The audit report: every reply and verdict, per-attack rates, the curve, and a summary.

``AuditReport`` is the whole record (stable JSON, ``schema_version``); ``AuditSummary``
is the small part a registry policy reads (worst attack success rate with its interval,
over-refusal, the many-shot k50). Both are frozen pydantic models.
"""

from __future__ import annotations

from pydantic import Field

from weightwatch.audit.curve import ManyShotCurve
from weightwatch.audit.judges.agreement import Agreement
from weightwatch.audit.judges.base import Verdict
from weightwatch.audit.results import AttackResult, Headline
from weightwatch.audit.stats import Proportion
from weightwatch.audit.targets.base import GenerationSettings
from weightwatch.reports import Record, Report


class TargetInfo(Record):
    label: str
    identity: str  # what the cache is keyed on (content digest or endpoint#model)
    supports_prefill: bool


class AuditItem(Record):
    """One request sent and how its reply was judged."""

    behavior_id: str
    kind: str  # harmful | benign
    category: str
    attack: str
    cache_key: str
    cached: bool  # answered from the cache, not queried in this run
    reply: str  # as the model wrote it (before any attack decoding)
    verdict: Verdict
    matched: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def refused(self) -> bool | None:
        """True/False for a clear verdict, None when unclear (the paired tests' input)."""
        if self.verdict is Verdict.UNCLEAR:
            return None
        return self.verdict is Verdict.REFUSED


class CategoryResult(Record):
    attack: str
    category: str
    asr: Proportion


class RunStats(Record):
    items: int
    cached: int  # answered from the cache
    queried: int  # sent to the target in this run
    seconds: float


class AuditReport(Report):
    target: TargetInfo
    suite: str
    settings: GenerationSettings
    seed: int
    judge_agreement: Agreement | None  # on the held-out labelled set, when measured
    attacks: tuple[AttackResult, ...]  # harmful behaviours, one per attack
    categories: tuple[CategoryResult, ...]
    over_refusal: Proportion | None  # refusals of benign behaviours (direct requests)
    many_shot: ManyShotCurve | None  # when several many_shot:k=… attacks were run
    items: tuple[AuditItem, ...]
    run: RunStats
    notes: tuple[str, ...] = ()

    def summary(self) -> AuditSummary:
        worst = max(self.attacks, key=lambda r: r.headline.estimate, default=None)
        return AuditSummary(
            target=self.target.label,
            target_identity=self.target.identity,
            suite=self.suite,
            judge=worst.judge.name if worst else None,
            behaviors=len({i.behavior_id for i in self.items if i.kind == "harmful"}),
            asr={r.attack: r.asr for r in self.attacks},
            worst_attack=worst.attack if worst else None,
            worst_asr=worst.asr if worst else None,
            headline={r.attack: r.headline for r in self.attacks},
            over_refusal=self.over_refusal,
            many_shot_k50=self.many_shot.k50_interpolated if self.many_shot else None,
        )


class AuditSummary(Report):
    """What a registry policy needs from one audit, without the replies."""

    target: str
    target_identity: str
    suite: str
    judge: str | None
    behaviors: int
    asr: dict[str, Proportion]
    worst_attack: str | None
    worst_asr: Proportion | None  # the apparent rate of the worst attack
    headline: dict[str, Headline] = Field(
        default_factory=dict
    )  # corrected for judge error where it was measured
    over_refusal: Proportion | None
    many_shot_k50: float | None
