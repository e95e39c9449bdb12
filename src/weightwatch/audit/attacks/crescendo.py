"""Crescendo (Russinovich et al. 2024): a multi-turn conversation that escalates gradually.

The attacker asks one question per turn, each building on the target's earlier answers;
the target always sees the whole accepted history. When the audit's judge reads the
target's reply as a refusal, the search *backtracks*: the question and its refusal are
erased from the target's history (the attacker is told, and rephrases), at most
``backtracks`` times; a refusal after that is kept and the conversation goes on. Each
accepted reply is rated 1–10 by the scorer; a 10 ends the search. It also ends after
``turns`` accepted turns or when the budget of target queries (refused ones included)
is spent. The reported conversation is the best-rated one, history included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from weightwatch.audit.attacks.adaptive import (
    SUCCESS_SCORE,
    AdaptiveAttack,
    Search,
    Stop,
    parse_attacker,
)
from weightwatch.audit.attacks.adaptive_prompts import crescendo_system, crescendo_turn
from weightwatch.audit.attacks.base import Conversation, Message, require_range


@dataclass(frozen=True)
class Crescendo(AdaptiveAttack):
    name: ClassVar[str] = "crescendo"
    turns: int = 5
    backtracks: int = 3
    attempts: int = 3

    def __post_init__(self) -> None:
        require_range("crescendo turns", self.turns, 1, 32)
        require_range("crescendo backtracks", self.backtracks, 0, 32)
        require_range("crescendo attempts", self.attempts, 1, 10)
        require_range("crescendo budget", self.budget, 0, 100_000)

    @property
    def max_queries(self) -> int:
        return self.turns + self.backtracks

    def run_search(self, state: Search) -> Stop:
        system = crescendo_system(state.goal, self.turns)
        attacker: list[Message] = []  # the attacker's own memory: nothing is erased from it
        history: list[Message] = []  # what the target sees: refused turns are erased
        backtracked = 0
        question: str | None = None
        reply: str | None = None
        refused = False
        turn = 1
        while turn <= self.turns:
            if state.exhausted:
                return "budget"
            ask = crescendo_turn(
                state.goal, turn, self.turns, question=question, reply=reply, refused=refused
            )
            attacker.append(Message(role="user", content=ask))
            said, question = self._question(state, system, attacker, turn, backtracked)
            if question is None:
                return "exhausted"  # the attacker gave no usable question
            attacker.append(Message(role="assistant", content=said))
            conversation = Conversation(messages=(*history, Message(role="user", content=question)))
            where = f"t{turn}" + (f"/b{backtracked}" if backtracked else "")
            reply, score = state.query(conversation, step=where, prompt=question)
            refused = state.refused(reply)
            if refused and backtracked < self.backtracks:
                backtracked += 1
                continue
            history = [*conversation.messages, Message(role="assistant", content=reply)]
            if score >= SUCCESS_SCORE:
                return "success"
            turn += 1
        return "exhausted"

    def _question(
        self, state: Search, system: str, attacker: list[Message], turn: int, backtracked: int
    ) -> tuple[str, str | None]:
        conversation = Conversation(system=system, messages=tuple(attacker))
        said = ""
        for attempt in range(self.attempts):
            said = state.attacker(conversation, turn, backtracked, attempt)
            parsed = parse_attacker(said, ("generated_question",))
            if parsed is not None:
                return said, parsed["generated_question"]
        return said, None


ATTACKS = (Crescendo,)
