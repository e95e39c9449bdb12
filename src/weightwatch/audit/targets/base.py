"""The target interface: something that answers a ``Conversation`` with text.

A target has a stable ``identity`` (what the response cache is keyed on: a content
digest for local weights, endpoint + model name for an API) and says whether it can honour
an assistant prefill. Generation settings are a value passed with each call, so the same
target can be queried greedily for an audit and sampled for a robustness run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from weightwatch.audit.attacks.base import Conversation
from weightwatch.errors import WeightwatchError


class TargetError(WeightwatchError):
    """A target could not be loaded or did not answer (after its retries)."""


class GenerationSettings(BaseModel):
    """How replies are generated; part of every cache key. ``temperature=0`` is greedy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(default=256, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0


class Target(ABC):
    """A model under audit. Implementations must be safe to call from several threads."""

    #: what the cache keys responses on; must change whenever the weights or model change
    identity: str
    #: a human label for reports (a folder name, ``model @ endpoint``)
    label: str
    #: whether ``complete`` honours ``Conversation.prefill``
    supports_prefill: bool = False
    #: how many calls may usefully run at once (1 for an in-process model)
    max_concurrency: int = 1

    @abstractmethod
    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        """The assistant's reply to ``conversation`` (including any prefill it was given)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most targets hold nothing
        """Release connections or memory; the target is unusable afterwards."""


def chat_messages(conversation: Conversation) -> list[dict[str, str]]:
    """The conversation as OpenAI-style ``{"role", "content"}`` messages (no prefill)."""
    messages: list[dict[str, str]] = []
    if conversation.system is not None:
        messages.append({"role": "system", "content": conversation.system})
    messages.extend({"role": m.role, "content": m.content} for m in conversation.messages)
    return messages


def check_prefill(target: Target, conversations: Sequence[Conversation]) -> None:
    """Refuse prefilled conversations for a target that would silently drop the prefill."""
    if not target.supports_prefill and any(c.prefill for c in conversations):
        raise TargetError(
            f"{target.label}: this target cannot prefill the assistant's answer",
            hint="prefill attacks need a local target (--model-dir); drop them for endpoints",
        )
