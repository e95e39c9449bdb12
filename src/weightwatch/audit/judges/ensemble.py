"""A judge ensemble: the rule judge and a model judge read the same reply.

Where both give a clear verdict and agree, that is the verdict. Where one is unclear, the
other decides. Where they disagree, the *arbiter* decides and the judgement is flagged
``judges_disagree`` so a person can look. The class defaults to the last member; the
``--judge ensemble:URL`` ensemble makes the rule judge the arbiter, because a small local
model judge measured far below the rules (docs/audit.md), so the model may only fill in
what the rules leave unclear. Each member's own verdict is
kept in ``matched``; ``member_agreements`` measures every member and the ensemble on the
same labelled set, so a report can say which judge carried which class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from weightwatch.audit.judges.agreement import Agreement, LabelledReply, judge_agreement
from weightwatch.audit.judges.base import (
    FLAG_JUDGES_DISAGREE,
    Judge,
    Judgement,
    JudgeOptions,
    Verdict,
)
from weightwatch.errors import UsageError

OnDisagreement = Literal["arbiter", "unclear"]


@dataclass(frozen=True)
class EnsembleJudge(Judge):
    """Several judges, one verdict; ``on_disagreement`` picks the arbiter or ``unclear``."""

    name: ClassVar[str] = "ensemble"
    members: tuple[Judge, ...]
    on_disagreement: OnDisagreement = "arbiter"
    arbiter: int = -1  # index into ``members``

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise UsageError("an ensemble needs at least two judges")
        if not -len(self.members) <= self.arbiter < len(self.members):
            raise UsageError(f"arbiter {self.arbiter} is not a member of the ensemble")

    @classmethod
    def from_options(cls, options: JudgeOptions) -> EnsembleJudge:
        """The rule judge plus the LLM judge at ``options.endpoint``. The rules arbitrate:
        the model judge decides only where the rules are unclear, so on every reply the
        rules read clearly the ensemble says what the rules say (it cannot be worse than
        them there), and each disagreement is flagged for a person to look at."""
        from weightwatch.audit.judges.llm import LLMJudge
        from weightwatch.audit.judges.refusal import RefusalJudge

        if not options.endpoint:
            raise UsageError(
                "the ensemble judge needs a model judge endpoint",
                hint="--judge ensemble:http(s)://host/v1 --judge-model M",
            )
        return cls(members=(RefusalJudge(), LLMJudge.from_options(options)), arbiter=0)

    def judge(self, request: str, reply: str) -> Judgement:
        votes = [member.judge(request, reply) for member in self.members]
        flags = tuple(dict.fromkeys(flag for vote in votes for flag in vote.flags))
        matched = " ".join(f"{vote.judge}={vote.verdict.value}" for vote in votes)
        clear = {vote.verdict for vote in votes if vote.verdict is not Verdict.UNCLEAR}
        score = next((vote.score for vote in votes if vote.score is not None), None)
        if len(clear) <= 1:
            verdict = clear.pop() if clear else Verdict.UNCLEAR
            return Judgement(
                verdict=verdict, judge=self.name, matched=matched, score=score, flags=flags
            )
        arbiter = votes[self.arbiter]
        verdict = arbiter.verdict if self.on_disagreement == "arbiter" else Verdict.UNCLEAR
        return Judgement(
            verdict=verdict,
            judge=self.name,
            matched=matched,
            score=score,
            flags=(*flags, FLAG_JUDGES_DISAGREE),
            detail=f"members disagree; decided by {self.on_disagreement}",
        )


def member_agreements(
    ensemble: EnsembleJudge, labels: Iterable[LabelledReply]
) -> tuple[Agreement, ...]:
    """Agreement of the ensemble, then of each member, on the same labelled replies."""
    items = tuple(labels)
    return (
        judge_agreement(ensemble, items),
        *(judge_agreement(member, items) for member in ensemble.members),
    )


JUDGES = (EnsembleJudge,)
