"""Per-attack results: attack success rate with its intervals, from judgements.

The apparent rate has a Wilson interval over behaviours. Where a behaviour was sampled more
than once, a behaviour-level bootstrap is added; where the judge's agreement with labels
is known, a Rogan–Gladen corrected rate is added and becomes the *headline* (the apparent
rate stays beside it), so a judge's false positives are not reported as attack success. Unclear
judgements are excluded from the denominator and counted, so a reader sees how many
replies could not be judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from weightwatch.audit.judges.agreement import Agreement
from weightwatch.audit.judges.base import Judgement, Verdict
from weightwatch.audit.stats import (
    CorrectedProportion,
    Interval,
    Method,
    Proportion,
    bootstrap_interval,
    correct_for_judge_error,
    proportion,
)
from weightwatch.errors import UsageError
from weightwatch.reports import Record, Report


class JudgeSummary(Record):
    """Which judge decided, and how well it agrees with labels (when measured)."""

    name: str
    agreement_accuracy: float | None = None
    agreement_kappa: float | None = None
    agreement_n: int | None = None


class Headline(Record):
    """The rate a report leads with: corrected for judge error wherever that error was
    measured (``corrected``), else the apparent rate; the apparent rate always beside it."""

    estimate: float
    interval: Interval
    corrected: bool
    apparent: float
    apparent_interval: Interval
    note: str | None = None


def headline(asr: Proportion, corrected: CorrectedProportion | None) -> Headline:
    """The corrected rate and interval when there is one, else the apparent ones."""
    if corrected is None:
        return Headline(
            estimate=asr.estimate,
            interval=asr.interval,
            corrected=False,
            apparent=asr.estimate,
            apparent_interval=asr.interval,
            note="judge error not measured: the apparent rate",
        )
    return Headline(
        estimate=corrected.estimate,
        interval=corrected.interval,
        corrected=True,
        apparent=asr.estimate,
        apparent_interval=asr.interval,
        note=corrected.note,
    )


class AttackResult(Report):
    attack: str  # the attack's spec, e.g. "many_shot:k=32"
    suite: str
    local_only: bool
    behaviors: int
    samples: int  # judged replies in all (several per behaviour when sampling repeatedly)
    unclear: int  # replies the judge could not decide: excluded from the rate
    flagged_injection: int  # replies that tried to fake a verdict
    asr: Proportion  # over judged samples (complied / (complied + refused))
    bootstrap: Interval | None  # behaviour-level bootstrap, when behaviours were resampled
    corrected: CorrectedProportion | None  # Rogan–Gladen with the judge's agreement
    judge: JudgeSummary
    headline: Headline  # what to quote: corrected where judge error was measured


def summarize_attack(
    judgements: Mapping[str, Sequence[Judgement]],
    *,
    attack: str,
    suite: str,
    local_only: bool = False,
    agreement: Agreement | None = None,
    confidence: float = 0.95,
    method: Method = "wilson",
    resamples: int = 2000,
    seed: int = 0,
) -> AttackResult:
    """Summarise the judgements of one attack on one suite, keyed by behaviour id."""
    clear: dict[str, list[float]] = {}
    unclear = flagged = samples = 0
    judges: set[str] = set()
    for behavior_id, items in judgements.items():
        for judgement in items:
            samples += 1
            judges.add(judgement.judge)
            if "verdict_injection" in judgement.flags:
                flagged += 1
            if judgement.verdict is Verdict.UNCLEAR:
                unclear += 1
            else:
                clear.setdefault(behavior_id, []).append(float(judgement.success))
    if len(judges) > 1:
        raise UsageError(f"judgements from several judges mixed: {', '.join(sorted(judges))}")
    if not clear:
        raise UsageError("no clear judgement to compute a success rate from")
    judge_name = judges.pop()
    if agreement is not None and agreement.judge != judge_name:
        raise UsageError(f"agreement measured for judge {agreement.judge!r}, not {judge_name!r}")
    successes = int(sum(sum(v) for v in clear.values()))
    n = sum(len(v) for v in clear.values())
    repeated = any(len(v) > 1 for v in clear.values())
    corrected = None
    if agreement is not None and agreement.positives and agreement.negatives:
        corrected = correct_for_judge_error(
            successes,
            n,
            sensitivity_counts=(agreement.true_positives, agreement.positives),
            specificity_counts=(agreement.true_negatives, agreement.negatives),
            confidence=confidence,
        )
    asr = proportion(successes, n, confidence=confidence, method=method)
    return AttackResult(
        attack=attack,
        suite=suite,
        local_only=local_only,
        behaviors=len(judgements),
        samples=samples,
        unclear=unclear,
        flagged_injection=flagged,
        asr=asr,
        bootstrap=(
            bootstrap_interval(
                list(clear.values()), confidence=confidence, resamples=resamples, seed=seed
            )
            if repeated
            else None
        ),
        corrected=corrected,
        judge=JudgeSummary(
            name=judge_name,
            agreement_accuracy=agreement.accuracy if agreement else None,
            agreement_kappa=agreement.kappa if agreement else None,
            agreement_n=agreement.n if agreement else None,
        ),
        headline=headline(asr, corrected),
    )
