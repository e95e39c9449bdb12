"""Attacks: transforms from a behaviour's request to the conversation a target receives.

Each attack is a file in this package exporting ``ATTACKS``; the package registers them
in ``registry()`` when imported, so adding an attack never edits a dispatcher. Build
attacks by spec (``attack("many_shot:k=8+encoding:scheme=rot13")``) or with the classes
directly, and combine them with ``compose``.
"""

from __future__ import annotations

from weightwatch.audit.attacks.base import (
    Attack,
    AttackContext,
    Composed,
    Conversation,
    Message,
    compose,
)
from weightwatch.audit.attacks.direct import Direct
from weightwatch.audit.attacks.encoding import Encoding
from weightwatch.audit.attacks.many_shot import REDACTION, ManyShot, placeholder_answer
from weightwatch.audit.attacks.past_tense import PastTense, to_past_tense
from weightwatch.audit.attacks.prefill import Prefill
from weightwatch.audit.attacks.prefix_injection import PrefixInjection
from weightwatch.audit.attacks.refusal_suppression import RefusalSuppression
from weightwatch.audit.attacks.roleplay import RolePlay
from weightwatch.audit.attacks.system_override import SystemOverride
from weightwatch.errors import UsageError
from weightwatch.plugins import Registry

_ATTACKS: Registry[type[Attack]] = Registry("attack", key=lambda cls: cls.name, export="ATTACKS")
_ATTACKS.discover(__name__)


def registry() -> Registry[type[Attack]]:
    """Every attack class, by name; ``register`` adds one from outside this package."""
    return _ATTACKS


def attack(spec: str) -> Attack:
    """Parse ``name[:key=value,...]`` terms joined by ``+`` into one attack."""
    parts: list[Attack] = []
    for term in spec.split("+"):
        name, _, raw_params = term.strip().partition(":")
        cls = _ATTACKS.lookup(name)
        params: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in raw_params.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"attack parameter {item!r} is not key=value")
            params[key.strip()] = value.strip()
        parts.append(cls.from_params(params))
    return compose(*parts)


def many_shot(k: int, *, format: str = "turns") -> Attack:
    return ManyShot(k=k, format=format)


__all__ = [
    "REDACTION",
    "Attack",
    "AttackContext",
    "Composed",
    "Conversation",
    "Direct",
    "Encoding",
    "ManyShot",
    "Message",
    "PastTense",
    "Prefill",
    "PrefixInjection",
    "RefusalSuppression",
    "RolePlay",
    "SystemOverride",
    "attack",
    "compose",
    "many_shot",
    "placeholder_answer",
    "registry",
    "to_past_tense",
]
