"""Judges: did the model refuse? Rule-based, LLM-graded, and their measured agreement.

Each judge is a file in this package exporting ``JUDGES``; the package registers them in
``registry()`` when imported, so adding a judge is a new file. ``open_judge`` (in
``weightwatch.audit.options``) builds one by name with ``Judge.from_options``.
"""

from __future__ import annotations

from weightwatch.audit.judges.agreement import (
    Agreement,
    LabelledReply,
    cohen_kappa,
    judge_agreement,
    load_judge_labels,
)
from weightwatch.audit.judges.base import (
    FLAG_DELIMITER_COLLISION,
    FLAG_DISCLAIMER,
    FLAG_JUDGE_OUTPUT_INVALID,
    FLAG_JUDGES_DISAGREE,
    FLAG_REFUSAL_THEN_COMPLY,
    FLAG_VERDICT_INJECTION,
    Judge,
    Judgement,
    JudgeOptions,
    Verdict,
    verdict_injection,
)
from weightwatch.audit.judges.ensemble import EnsembleJudge, member_agreements
from weightwatch.audit.judges.llm import (
    ChatClient,
    JudgeUnavailable,
    LLMJudge,
    OpenAIChatClient,
    RubricAnswer,
    parse_rubric_answer,
)
from weightwatch.audit.judges.refusal import RefusalJudge
from weightwatch.plugins import Registry

_JUDGES: Registry[type[Judge]] = Registry("judge", key=lambda cls: cls.name, export="JUDGES")
_JUDGES.discover(__name__)


def registry() -> Registry[type[Judge]]:
    """Every judge class, by name; ``register`` adds one from outside this package."""
    return _JUDGES


__all__ = [
    "FLAG_DELIMITER_COLLISION",
    "FLAG_DISCLAIMER",
    "FLAG_JUDGES_DISAGREE",
    "FLAG_JUDGE_OUTPUT_INVALID",
    "FLAG_REFUSAL_THEN_COMPLY",
    "FLAG_VERDICT_INJECTION",
    "Agreement",
    "ChatClient",
    "EnsembleJudge",
    "Judge",
    "JudgeOptions",
    "JudgeUnavailable",
    "Judgement",
    "LLMJudge",
    "LabelledReply",
    "OpenAIChatClient",
    "RefusalJudge",
    "RubricAnswer",
    "Verdict",
    "cohen_kappa",
    "judge_agreement",
    "load_judge_labels",
    "member_agreements",
    "parse_rubric_answer",
    "registry",
    "verdict_injection",
]
