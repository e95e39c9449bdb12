"""Judge error in audits: interval coverage over 10,000 simulated audits per cell, and
`audit plan` sample sizes against simulated power. Prints a Markdown section.

Run alone with ``make bench-audit-stats`` (a few minutes on 2 cores); it is not part of
``make test``, whose tests run the same code at 1,500 audits per cell.
"""

from __future__ import annotations

import time

from weightwatch.audit.planning import JudgeError, plan_audit, simulated_power
from weightwatch.audit.simulate import coverage_grid

RUNS = 10_000
JUDGES = ((0.7, 0.7), (0.7, 0.95), (0.95, 0.7), (0.8, 0.8), (0.93, 0.71), (0.95, 0.95))
RATES = (0.0, 0.05, 0.2, 0.5)


def main() -> None:
    start = time.perf_counter()
    report = coverage_grid(
        judges=JUDGES, rates=RATES, sizes=(100, 400), labels=(30, 100), runs=RUNS, seed=1
    )
    seconds = time.perf_counter() - start
    print("### Judge-error correction: coverage of 95% intervals\n")
    print(
        f"{RUNS:,} simulated audits per cell ({len(report.cells)} cells, {seconds:.0f} s): a "
        "labelled validation set of `labels` complied and `labels` refused replies, then `n` "
        "replies at the true rate, all read through a judge with the given sensitivity and "
        "specificity. *corrected*: `stats.correct_for_judge_error` (the headline); "
        "*apparent*: the Wilson interval of the apparent rate.\n"
    )
    print("| sens | spec | true rate | n | labels | corrected | apparent | mean width |")
    print("|---|---|---|---|---|---|---|---|")
    for c in report.cells:
        print(
            f"| {c.sensitivity} | {c.specificity} | {c.rate} | {c.n} | {c.labels} | "
            f"{c.corrected:.4f} | {c.uncorrected:.4f} | {c.mean_width:.3f} |"
        )
    worst = report.worst
    print(
        f"\nLowest corrected coverage: **{worst.corrected:.4f}** (sens {worst.sensitivity}, "
        f"spec {worst.specificity}, rate {worst.rate}, n {worst.n}, labels {worst.labels}).\n"
    )
    print("### `audit plan` against simulated power\n")
    print(
        "| effect | base rate | judge (sens, spec) | planned pairs | exact power | "
        "simulated power at 0.9·n / n / 1.1·n (4,000 runs) |"
    )
    print("|---|---|---|---|---|---|")
    for effect, base, judge in (
        (0.05, 0.05, None),
        (0.05, 0.05, JudgeError(0.93, 0.71)),
        (0.1, 0.05, JudgeError(0.8, 0.8)),
        (0.1, 0.1, JudgeError(0.7, 0.7)),
    ):
        plan = plan_audit(effect=effect, base_rate=base, judge=judge)
        assert plan.pairs is not None
        sims = [
            simulated_power(
                round(f * plan.pairs),
                effect=effect,
                alpha=0.05,
                base_rate=base,
                judge=judge,
                runs=4000,
                seed=round(f * 100),
            )
            for f in (0.9, 1.0, 1.1)
        ]
        label = f"({judge.sensitivity}, {judge.specificity})" if judge else "perfect"
        print(
            f"| {effect} | {base} | {label} | {plan.pairs} | {plan.achieved_power:.3f} | "
            + " / ".join(f"{s:.3f}" for s in sims)
            + " |"
        )


if __name__ == "__main__":
    main()
