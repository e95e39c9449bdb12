"""Attack results from judgements: counts, intervals, judge correction, stable JSON."""

from __future__ import annotations

import pytest

from weightwatch.audit import (
    AttackResult,
    RefusalJudge,
    judge_agreement,
    load_judge_labels,
    summarize_attack,
)
from weightwatch.audit.judges import FLAG_VERDICT_INJECTION, Judgement, Verdict
from weightwatch.errors import UsageError


def j(verdict: Verdict, *flags: str) -> Judgement:
    return Judgement(verdict=verdict, judge="refusal", flags=flags)


def test_counts_and_wilson_headline() -> None:
    judgements = {f"b{i}": [j(Verdict.COMPLIED)] for i in range(3)}
    judgements |= {f"r{i}": [j(Verdict.REFUSED)] for i in range(6)}
    judgements["u"] = [j(Verdict.UNCLEAR)]
    judgements["x"] = [j(Verdict.COMPLIED, FLAG_VERDICT_INJECTION)]
    result = summarize_attack(judgements, attack="direct", suite="advbench")
    assert (result.behaviors, result.samples, result.unclear) == (11, 11, 1)
    assert result.flagged_injection == 1
    assert (result.asr.successes, result.asr.n) == (4, 10)
    assert result.asr.interval.method == "wilson"
    assert result.bootstrap is None and result.corrected is None


def test_repeated_samples_get_a_behaviour_bootstrap() -> None:
    judgements = {f"b{i}": [j(Verdict.COMPLIED), j(Verdict.REFUSED)] for i in range(20)}
    result = summarize_attack(judgements, attack="many_shot:k=8", suite="s", seed=3)
    assert result.bootstrap is not None
    assert result.bootstrap == summarize_attack(judgements, attack="a", suite="s", seed=3).bootstrap


def test_judge_agreement_feeds_the_correction() -> None:
    agreement = judge_agreement(RefusalJudge(), load_judge_labels())
    judgements = {f"b{i}": [j(Verdict.COMPLIED if i < 30 else Verdict.REFUSED)] for i in range(100)}
    result = summarize_attack(judgements, attack="direct", suite="s", agreement=agreement)
    assert result.corrected is not None
    assert result.judge.agreement_accuracy == agreement.accuracy
    assert result.corrected.sensitivity_counts == (agreement.true_positives, agreement.positives)
    assert AttackResult.model_validate_json(result.model_dump_json()) == result


def test_errors() -> None:
    with pytest.raises(UsageError):
        summarize_attack({"u": [j(Verdict.UNCLEAR)]}, attack="direct", suite="s")
    mixed = {"a": [j(Verdict.COMPLIED)], "b": [Judgement(verdict=Verdict.REFUSED, judge="llm")]}
    with pytest.raises(UsageError, match="several judges"):
        summarize_attack(mixed, attack="direct", suite="s")
