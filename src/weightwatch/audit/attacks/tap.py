"""TAP (Mehrotra et al. 2024): tree of attacks with pruning.

A tree of attacker conversations grows from ``roots`` roots. At each depth every leaf
asks its attacker for ``branching`` children (PAIR's ``improvement`` + ``prompt``, each
child a copy of its parent's attacker conversation). Phase-one pruning asks the scorer
whether each child's prompt is still on the goal's topic and drops those that are not,
keeping at most ``width``. The target answers the survivors and the scorer rates them;
a 10 stops the search (after the depth, as in the paper). Phase-two pruning keeps the
``width`` best-scoring leaves (ties in generation order), whose reply and score go back
into their attacker conversations for the next depth. The search also ends when the
budget of target queries is spent, when no leaf survives, or after ``depth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from weightwatch.audit.attacks.adaptive import SUCCESS_SCORE, AdaptiveAttack, Search, Stop
from weightwatch.audit.attacks.adaptive_prompts import attacker_feedback
from weightwatch.audit.attacks.base import Conversation, Message, require_range
from weightwatch.audit.attacks.pair import Stream, new_stream, next_prompt


@dataclass(frozen=True)
class TAP(AdaptiveAttack):
    name: ClassVar[str] = "tap"
    roots: int = 1
    branching: int = 2
    width: int = 4
    depth: int = 3
    attempts: int = 3
    keep_last: int = 3

    def __post_init__(self) -> None:
        require_range("tap roots", self.roots, 1, 16)
        require_range("tap branching", self.branching, 1, 16)
        require_range("tap width", self.width, 1, 64)
        require_range("tap depth", self.depth, 1, 32)
        require_range("tap attempts", self.attempts, 1, 10)
        require_range("tap keep_last", self.keep_last, 1, 64)
        require_range("tap budget", self.budget, 0, 100_000)

    @property
    def max_queries(self) -> int:
        return self.width * self.depth

    def run_search(self, state: Search) -> Stop:
        leaves = [new_stream(state) for _ in range(self.roots)]
        for level in range(1, self.depth + 1):
            children: list[tuple[Stream, str, str]] = []  # (attacker conversation, said, prompt)
            for index, leaf in enumerate(leaves, start=1):
                for branch in range(1, self.branching + 1):
                    where = f"d{level}/l{index}/b{branch}"
                    made = next_prompt(
                        state, leaf, keep_last=self.keep_last, attempts=self.attempts, where=where
                    )
                    if made is not None:
                        child = Stream(leaf.system, leaf.start, list(leaf.exchanges))
                        children.append((child, *made))
            on_topic = [
                c
                for number, c in enumerate(children, start=1)
                if state.scorer.on_topic(state.goal, c[2], step=f"d{level}/n{number}")
            ][: self.width]
            scored: list[tuple[int, Stream]] = []
            found = False
            for number, (child, said, prompt) in enumerate(on_topic, start=1):
                if state.exhausted:
                    return "budget"
                asked = Conversation(messages=(Message(role="user", content=prompt),))
                reply, score = state.query(asked, step=f"d{level}/n{number}", prompt=prompt)
                child.exchanges.append((said, attacker_feedback(state.goal, reply, score)))
                scored.append((score, child))
                found = found or score >= SUCCESS_SCORE
            if found:
                return "success"
            ranked = sorted(enumerate(scored), key=lambda item: (-item[1][0], item[0]))
            leaves = [child for _, (_, child) in ranked[: self.width]]
            if not leaves:
                return "exhausted"
        return "exhausted"


ATTACKS = (TAP,)
