"""Planning and judge-error simulation (issue 22): sample sizes and interval coverage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weightwatch.audit.comparison import ComparisonVerdict, compare_refusals
from weightwatch.audit.paired import mcnemar_exact
from weightwatch.audit.planning import (
    JudgeError,
    _critical,
    apparent_discordance,
    exact_power,
    plan_audit,
    simulated_power,
)
from weightwatch.audit.simulate import coverage_cell
from weightwatch.cli import main
from weightwatch.errors import UsageError


def test_critical_values_match_the_exact_mcnemar_test() -> None:
    ms = np.arange(0, 80)
    for alpha in (0.05, 0.01, 0.0125):
        crit = _critical(ms, alpha)
        for m in range(80):
            rejecting = [k for k in range(m + 1) if mcnemar_exact(k, m - k) < alpha]
            assert crit[m] == (min(rejecting) if rejecting else m + 1)


def test_judge_error_shrinks_the_apparent_effect_by_youden() -> None:
    judge = JudgeError(sensitivity=0.8, specificity=0.9)
    q_concern, q_reverse = apparent_discordance(base_rate=0.1, effect=0.1, judge=judge)
    assert q_concern - q_reverse == pytest.approx(0.1 * (0.8 + 0.9 - 1))


@pytest.mark.parametrize(
    ("effect", "base_rate", "judge"),
    [(0.1, 0.05, JudgeError(0.8, 0.8)), (0.15, 0.1, JudgeError(0.95, 0.7)), (0.1, 0.0, None)],
)
def test_plan_matches_simulation_within_ten_percent(
    effect: float, base_rate: float, judge: JudgeError | None
) -> None:
    plan = plan_audit(effect=effect, base_rate=base_rate, judge=judge)
    assert plan.pairs is not None and plan.achieved_power is not None
    assert plan.achieved_power >= 0.8

    def sim(n: int) -> float:
        return simulated_power(
            n, effect=effect, alpha=0.05, base_rate=base_rate, judge=judge, runs=3000, seed=n
        )

    # The smallest n at which simulated power reaches 0.8 lies within ±10% of the plan:
    # simulated power at 0.9·n is short of 0.8, at 1.1·n above it (3000 runs: SE ≈ 0.007).
    assert sim(round(0.9 * plan.pairs)) < 0.8
    assert sim(round(1.1 * plan.pairs)) >= 0.8
    assert abs(sim(plan.pairs) - plan.achieved_power) < 0.03


def test_a_worse_judge_needs_more_pairs() -> None:
    perfect = plan_audit(effect=0.05)
    noisy = plan_audit(effect=0.05, judge=JudgeError(0.93, 0.71))
    assert perfect.pairs is not None and noisy.pairs is not None
    assert noisy.pairs > 5 * perfect.pairs
    assert noisy.pairs_perfect_judge == perfect.pairs


def test_plan_refuses_impossible_inputs() -> None:
    with pytest.raises(UsageError, match="no better than chance"):
        JudgeError(0.5, 0.5)
    with pytest.raises(UsageError, match="out of range"):
        plan_audit(effect=0.5, base_rate=0.7)
    assert exact_power(0, 0.1, 0.0, alpha=0.05) == 0.0


def test_audit_plan_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["audit", "plan", "--effect", "0.05", "--power", "0.8", "--judge", "keyword", "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["judge"] == "refusal" and doc["pairs"] >= doc["pairs_perfect_judge"]
    assert (
        main(["audit", "plan", "--effect", "0.05", "--sensitivity", "0.5", "--specificity", "0.5"])
        == 2
    )
    # an explicit 0 is a judge that never reads a compliance, not "perfect" (it was read as 1.0)
    assert (
        main(["audit", "plan", "--effect", "0.05", "--sensitivity", "0", "--specificity", "0.9"])
        == 2
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("se", "sp", "rate"),
    [(0.7, 0.7, 0.0), (0.7, 0.7, 0.3), (0.7, 0.95, 0.05), (0.95, 0.7, 0.5), (0.9, 0.9, 0.1)],
)
def test_corrected_intervals_cover_in_simulation(se: float, sp: float, rate: float) -> None:
    # The small version of `make bench-audit-stats` (10,000 audits per cell there).
    cell = coverage_cell(
        sensitivity=se, specificity=sp, rate=rate, n=200, labels=60, runs=1500, seed=11
    )
    assert cell.corrected >= 0.93  # nominal 0.95; 1500 runs: SE ≈ 0.006
    if rate == 0.0 or (se, sp) == (0.7, 0.7):
        assert cell.uncorrected < 0.5  # the apparent rate's interval misses the truth


def test_tost_is_robust_to_judge_error() -> None:
    # 5 refusals lost of 200: equivalent at ±10% with a perfect judge; with a judge whose
    # Youden bound is 0.3 the apparent difference is a third of the true one, so the test
    # must be made at ±3% on the judged scale and cannot show equivalence here.
    base = {f"b{i}": True for i in range(200)}
    derivative = {f"b{i}": i >= 5 for i in range(200)}
    plain = compare_refusals(base, derivative, margin=0.1)
    robust = compare_refusals(base, derivative, margin=0.1, judge_youden=0.3)
    assert plain.verdict is ComparisonVerdict.EQUIVALENT
    assert robust.verdict is not ComparisonVerdict.EQUIVALENT
    assert robust.p_equivalence > plain.p_equivalence
    assert any("Youden" in note for note in robust.notes)
