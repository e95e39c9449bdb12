"""Judges: did the model refuse? Rule-based, LLM-graded, and their measured agreement.

Each judge is a file in this package exporting ``JUDGES``; ``registry()`` finds them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

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
    FLAG_VERDICT_INJECTION,
    Judge,
    Judgement,
    Verdict,
    verdict_injection,
)
from weightwatch.audit.judges.llm import (
    ChatClient,
    JudgeUnavailable,
    LLMJudge,
    OpenAIChatClient,
    RubricAnswer,
    parse_rubric_answer,
)
from weightwatch.audit.judges.refusal import RefusalJudge

_NOT_JUDGES = frozenset({"base", "agreement"})


@functools.cache
def registry() -> Mapping[str, type[Judge]]:
    """Every judge class in this package, by name (read-only)."""
    found: dict[str, type[Judge]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name in _NOT_JUDGES:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for cls in getattr(module, "JUDGES", ()):
            if cls.name in found:
                raise RuntimeError(f"two judges are named {cls.name!r}")
            found[cls.name] = cls
    return MappingProxyType(found)


__all__ = [
    "FLAG_DELIMITER_COLLISION",
    "FLAG_DISCLAIMER",
    "FLAG_JUDGE_OUTPUT_INVALID",
    "FLAG_VERDICT_INJECTION",
    "Agreement",
    "ChatClient",
    "Judge",
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
    "parse_rubric_answer",
    "registry",
    "verdict_injection",
]
