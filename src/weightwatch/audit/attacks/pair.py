"""PAIR (Chao et al. 2023): parallel streams of an attacker refining one prompt.

Each of ``streams`` streams keeps its own attacker conversation. Per iteration every live
stream asks its attacker for ``{"improvement", "prompt"}`` (up to ``attempts`` tries on
output that does not parse), the target answers each prompt, the scorer rates each reply
1–10, and the reply and score go back to that stream's attacker. The search stops after
the iteration in which a reply scores 10 (as the paper's batch loop does), when the
budget of target queries is spent, or after ``iterations``. The attacker sees only its
last ``keep_last`` exchanges (PAIR keeps 3 by default, to bound its context).
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
from weightwatch.audit.attacks.adaptive_prompts import attacker_feedback, attacker_start
from weightwatch.audit.attacks.base import Conversation, Message, require_range


@dataclass
class Stream:
    """One attacker conversation: its system prompt, first message and later exchanges."""

    system: str
    start: str
    exchanges: list[tuple[str, str]]  # (attacker's JSON, feedback given back)

    def conversation(self, keep_last: int) -> Conversation:
        """The first message, then the last ``keep_last`` exchanges (a chat must open with
        the user's turn, so the first message stays where PAIR drops it)."""
        messages = [Message(role="user", content=self.start)]
        kept = self.exchanges[-keep_last:]
        for said, feedback in kept:
            messages.append(Message(role="assistant", content=said))
            messages.append(Message(role="user", content=feedback))
        return Conversation(system=self.system, messages=tuple(messages))


def new_stream(state: Search) -> Stream:
    system, start = attacker_start(state.goal, state.target_str)
    return Stream(system=system, start=start, exchanges=[])


def next_prompt(
    state: Search, stream: Stream, *, keep_last: int, attempts: int, where: str
) -> tuple[str, str] | None:
    """(attacker's raw JSON, prompt) from up to ``attempts`` attacker calls, else None."""
    conversation = stream.conversation(keep_last)
    for attempt in range(attempts):
        said = state.attacker(conversation, where, attempt)
        parsed = parse_attacker(said, ("prompt",))
        if parsed is not None:
            return said, parsed["prompt"]
    return None


@dataclass(frozen=True)
class PAIR(AdaptiveAttack):
    name: ClassVar[str] = "pair"
    streams: int = 3
    iterations: int = 3
    attempts: int = 3
    keep_last: int = 3

    def __post_init__(self) -> None:
        require_range("pair streams", self.streams, 1, 64)
        require_range("pair iterations", self.iterations, 1, 64)
        require_range("pair attempts", self.attempts, 1, 10)
        require_range("pair keep_last", self.keep_last, 1, 64)
        require_range("pair budget", self.budget, 0, 100_000)

    @property
    def max_queries(self) -> int:
        return self.streams * self.iterations

    def run_search(self, state: Search) -> Stop:
        streams = [new_stream(state) for _ in range(self.streams)]
        for iteration in range(1, self.iterations + 1):
            found = False
            for index, stream in enumerate(streams, start=1):
                if state.exhausted:
                    return "budget"
                where = f"s{index}/i{iteration}"
                made = next_prompt(
                    state, stream, keep_last=self.keep_last, attempts=self.attempts, where=where
                )
                if made is None:
                    continue  # this stream sits out the iteration, like PAIR's invalid outputs
                said, prompt = made
                asked = Conversation(messages=(Message(role="user", content=prompt),))
                reply, score = state.query(asked, step=where, prompt=prompt)
                stream.exchanges.append((said, attacker_feedback(state.goal, reply, score)))
                found = found or score >= SUCCESS_SCORE
            if found:
                return "success"
        return "exhausted"


ATTACKS = (PAIR,)
