"""The baseline: the behaviour's request exactly as the dataset states it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from weightwatch.audit.attacks.base import Attack, AttackContext, Conversation


@dataclass(frozen=True)
class Direct(Attack):
    name: ClassVar[str] = "direct"

    def apply(self, conversation: Conversation, *, context: AttackContext) -> Conversation:
        return conversation


ATTACKS = (Direct,)
