"""Conversations and the attack interface: an attack rewrites a conversation.

Every attack rewrites the *last user turn* (the behaviour's request) or adds turns before
it, so attacks compose: ``compose(many_shot(k=8), encoding(scheme="base64"))`` builds the
shots, then encodes the final request. Attacks are frozen dataclasses; their ``spec`` string
(``many_shot:k=8``) names them in reports and parses back through ``attack_from_spec``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from weightwatch.audit.datasets import Behavior
from weightwatch.errors import UsageError

Role = Literal["user", "assistant"]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class Conversation(BaseModel):
    """What a target receives: optional system prompt, turns, optional assistant prefill.

    ``prefill`` is text the assistant's answer is forced to start with; only targets that
    control decoding (local models) can honour it.
    """

    model_config = ConfigDict(frozen=True)

    system: str | None = None
    messages: tuple[Message, ...]
    prefill: str | None = None

    @classmethod
    def of(cls, behavior: Behavior) -> Conversation:
        """The direct request, no attack applied."""
        return cls(messages=(Message(role="user", content=behavior.request),))

    @property
    def request(self) -> str:
        """The last user turn: the text attacks rewrite."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        raise UsageError("the conversation has no user turn to attack")

    def with_request(self, content: str) -> Conversation:
        """A copy whose last user turn is ``content``."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].role == "user":
                messages = list(self.messages)
                messages[index] = Message(role="user", content=content)
                return self.model_copy(update={"messages": tuple(messages)})
        raise UsageError("the conversation has no user turn to attack")


@dataclass(frozen=True)
class AttackContext:
    """What an attack may use besides the conversation: the behaviour, a pool, a seed."""

    behavior: Behavior
    pool: Sequence[Behavior] = ()  # other behaviours of the suite (many-shot draws on it)
    seed: int = 0

    def rng_seed(self, salt: str) -> int:
        """A seed stable across Python runs (``hash()`` is salted per process)."""
        digest = hashlib.sha256(f"{self.seed}\0{self.behavior.id}\0{salt}".encode()).digest()
        return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Attack(ABC):
    """A transform from conversation to conversation; subclasses add typed parameters."""

    name: ClassVar[str]
    requires_local: ClassVar[bool] = False  # needs control over decoding (e.g. prefill)

    @property
    def local_only(self) -> bool:
        """True when only a target that controls decoding (a local model) can run it."""
        return self.requires_local

    @abstractmethod
    def apply(self, conversation: Conversation, *, context: AttackContext) -> Conversation:
        """The rewritten conversation."""

    def decode_reply(self, reply: str) -> str:
        """The reply in plain text, for attacks that ask for an encoded answer."""
        return reply

    def run(
        self, behavior: Behavior, *, pool: Sequence[Behavior] = (), seed: int = 0
    ) -> Conversation:
        """Apply the attack to the behaviour's direct request."""
        context = AttackContext(behavior=behavior, pool=tuple(pool), seed=seed)
        return self.apply(Conversation.of(behavior), context=context)

    @property
    def spec(self) -> str:
        params = [
            f"{field.name}={getattr(self, field.name)}"
            for field in dataclasses.fields(self)
            if getattr(self, field.name) != field.default
        ]
        return f"{self.name}:{','.join(params)}" if params else self.name

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Attack:
        """Build from string parameters (``k=8``), converting to the declared field types."""
        fields = {field.name: field for field in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for key, raw in params.items():
            if key not in fields:
                known = ", ".join(fields) or "none"
                raise UsageError(f"attack {cls.name!r} has no parameter {key!r} (known: {known})")
            values[key] = _convert(cls.name, key, str(fields[key].type), raw)
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"attack {cls.name!r}: {exc}") from exc


def _convert(attack: str, key: str, declared: str, raw: str) -> object:
    if declared == "int":
        try:
            return int(raw)
        except ValueError:
            raise UsageError(f"attack {attack!r}: {key} must be an integer, not {raw!r}") from None
    if declared == "bool":
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise UsageError(f"attack {attack!r}: {key} must be true or false, not {raw!r}")
        return raw.lower() in {"true", "1"}
    return raw


@dataclass(frozen=True)
class Composed(Attack):
    """Attacks applied left to right; replies are decoded right to left."""

    name: ClassVar[str] = "compose"
    parts: tuple[Attack, ...] = ()

    def __post_init__(self) -> None:
        if not self.parts:
            raise UsageError("compose() needs at least one attack")

    @property
    def local_only(self) -> bool:
        return any(part.local_only for part in self.parts)

    def apply(self, conversation: Conversation, *, context: AttackContext) -> Conversation:
        for part in self.parts:
            conversation = part.apply(conversation, context=context)
        return conversation

    def decode_reply(self, reply: str) -> str:
        for part in reversed(self.parts):
            reply = part.decode_reply(reply)
        return reply

    @property
    def spec(self) -> str:
        return "+".join(part.spec for part in self.parts)


def compose(*attacks: Attack) -> Attack:
    """One attack doing each of ``attacks`` in order (nested compositions are flattened)."""
    parts: list[Attack] = []
    for attack in attacks:
        parts.extend(attack.parts if isinstance(attack, Composed) else (attack,))
    return parts[0] if len(parts) == 1 else Composed(parts=tuple(parts))


def require_range(name: str, value: int, low: int, high: int) -> None:
    """Raise ``UsageError`` unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low} and {high}, not {value}")
