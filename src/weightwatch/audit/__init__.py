"""Red-team audits, the pure core: behaviour suites, attacks, judges and statistics.

Owns what makes an audit's numbers defensible: datasets (``load_suite``), attack
transforms (``attacks``), refusal and LLM judges with measured agreement (``judges``),
and the statistics (``stats``, ``curve``, ``comparison``) behind ``AttackResult`` and
``ComparisonResult``. The I/O edge sits in ``targets`` (endpoints, local models) and
``cache``; ``run_audit`` and ``compare_reports`` tie them together into ``AuditReport``
and ``DerivativeReport``; ``html`` renders either.
"""

from weightwatch.audit.attacks import Attack, Conversation, Message, attack, compose, many_shot
from weightwatch.audit.cache import ResponseCache
from weightwatch.audit.comparison import (
    ComparisonResult,
    ComparisonVerdict,
    SampleSize,
    compare_refusals,
)
from weightwatch.audit.curve import ManyShotCurve, PowerLawFit, ShotPoint, many_shot_curve
from weightwatch.audit.datasets import BUILTIN_SUITES, Behavior, load_suite, load_user_suite
from weightwatch.audit.derivative import DerivativeReport, DerivativeSummary, compare_reports
from weightwatch.audit.judges import (
    Agreement,
    Judge,
    Judgement,
    LLMJudge,
    OpenAIChatClient,
    RefusalJudge,
    Verdict,
    judge_agreement,
    load_judge_labels,
)
from weightwatch.audit.paired import (
    mcnemar_exact,
    newcombe_paired_interval,
    paired_difference_interval,
    tango_paired_interval,
    tost_p_value,
)
from weightwatch.audit.report import AuditItem, AuditReport, AuditSummary
from weightwatch.audit.results import AttackResult, JudgeSummary, summarize_attack
from weightwatch.audit.runner import AuditConfig, run_audit
from weightwatch.audit.stats import (
    CorrectedProportion,
    Interval,
    Proportion,
    bootstrap_interval,
    clopper_pearson_interval,
    correct_for_judge_error,
    proportion,
    wilson_interval,
)
from weightwatch.audit.targets import GenerationSettings, OpenAITarget, Target, open_target

__all__ = [
    "BUILTIN_SUITES",
    "Agreement",
    "Attack",
    "AttackResult",
    "AuditConfig",
    "AuditItem",
    "AuditReport",
    "AuditSummary",
    "Behavior",
    "ComparisonResult",
    "ComparisonVerdict",
    "Conversation",
    "CorrectedProportion",
    "DerivativeReport",
    "DerivativeSummary",
    "GenerationSettings",
    "Interval",
    "Judge",
    "JudgeSummary",
    "Judgement",
    "LLMJudge",
    "ManyShotCurve",
    "Message",
    "OpenAIChatClient",
    "OpenAITarget",
    "PowerLawFit",
    "Proportion",
    "RefusalJudge",
    "ResponseCache",
    "SampleSize",
    "ShotPoint",
    "Target",
    "Verdict",
    "attack",
    "bootstrap_interval",
    "clopper_pearson_interval",
    "compare_refusals",
    "compare_reports",
    "compose",
    "correct_for_judge_error",
    "judge_agreement",
    "load_judge_labels",
    "load_suite",
    "load_user_suite",
    "many_shot",
    "many_shot_curve",
    "mcnemar_exact",
    "newcombe_paired_interval",
    "open_target",
    "paired_difference_interval",
    "proportion",
    "run_audit",
    "summarize_attack",
    "tango_paired_interval",
    "tost_p_value",
    "wilson_interval",
]
