"""Model-card completeness against a configurable checklist.

A card item counts as present when a front-matter field holds a value or a markdown
heading of the body matches one of its synonyms (``## Uses``, ``### Out-of-scope
use``...) and the section has some text under it. Headings are what hub card templates
use; matching prose would reward a card that merely says "no evaluation was done".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from weightwatch.errors import PolicyError


class CardCheck(BaseModel):
    """One checklist item: front-matter fields or heading synonyms that satisfy it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    fields: tuple[str, ...] = ()
    headings: tuple[str, ...] = ()  # lower-case words a heading may contain
    derivatives_only: bool = False


DEFAULT_CHECKLIST: tuple[CardCheck, ...] = (
    CardCheck(id="licence", label="licence", fields=("license", "license_name")),
    CardCheck(
        id="base_model",
        label="base model (for a derivative)",
        fields=("base_model",),
        derivatives_only=True,
    ),
    CardCheck(
        id="intended_use",
        label="intended use",
        fields=("intended_use",),
        headings=("intended use", "uses", "use cases", "direct use", "how to use", "usage"),
    ),
    CardCheck(
        id="limitations",
        label="limitations and risks",
        fields=("limitations",),
        headings=(
            "limitations",
            "bias, risks",
            "risks",
            "out-of-scope",
            "out of scope",
            "ethical considerations",
            "safety",
        ),
    ),
    CardCheck(
        id="training_data",
        label="training data summary",
        fields=("datasets",),
        headings=("training data", "datasets", "dataset", "data"),
    ),
    CardCheck(
        id="evaluation",
        label="evaluation",
        fields=("model-index",),
        headings=("evaluation", "results", "benchmarks", "performance"),
    ),
)


class CardItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    present: bool
    where: str | None  # "front matter: license" or "heading: ## Uses"


class CardFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    present: bool
    complete: bool
    missing: list[str]  # ids of absent items
    items: list[CardItem]


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def sections(body: str) -> list[tuple[str, str]]:
    """(heading line, text under it up to the next heading of any level) pairs."""
    out: list[tuple[str, list[str]]] = []
    fence = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m:
            out.append((line.strip(), []))
        elif out:
            out[-1][1].append(line)
    return [(h, "\n".join(lines).strip()) for h, lines in out]


def _word_in(phrase: str, title: str) -> bool:
    """Whole-word match, so "data" finds "Training data" but not "Metadata"."""
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", title) is not None


def _has_value(v: Any) -> bool:
    if v is None or isinstance(v, bool):
        return v is True
    if isinstance(v, str | list | dict | tuple):
        return len(v) > 0
    return True


def check_card(
    front_matter: Mapping[str, Any] | None,
    body: str | None,
    *,
    derivative: bool,
    checklist: Sequence[CardCheck] = DEFAULT_CHECKLIST,
    elsewhere: Mapping[str, str] | None = None,
) -> CardFacts:
    """Which checklist items the card covers; a missing card misses every item.
    ``elsewhere`` maps a front-matter field to where the artifact states it outside a
    card (a GGUF's ``general.license``): that item counts as covered there."""
    present = front_matter is not None or body is not None
    front = front_matter or {}
    known = elsewhere or {}
    secs = sections(body or "")
    items: list[CardItem] = []
    for c in checklist:
        if c.derivatives_only and not derivative:
            continue
        where = next((f"front matter: {f}" for f in c.fields if _has_value(front.get(f))), None)
        if where is None:
            where = next((known[f] for f in c.fields if f in known), None)
        if where is None:
            for heading, text in secs:
                title = heading.lstrip("#").strip().lower()
                if text and any(_word_in(h, title) for h in c.headings):
                    where = f"heading: {heading}"
                    break
        items.append(CardItem(id=c.id, label=c.label, present=where is not None, where=where))
    missing = [i.id for i in items if not i.present]
    return CardFacts(present=present, complete=not missing, missing=missing, items=items)


def parse_checklist(raw: Any, where: str) -> tuple[CardCheck, ...]:
    """A checklist from policy YAML: a list of items, or names of the default items."""
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where}: card_checklist must be a non-empty list")
    defaults = {c.id: c for c in DEFAULT_CHECKLIST}
    out: list[CardCheck] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            if item not in defaults:
                raise PolicyError(
                    f"{where}: card_checklist[{i}]: unknown item {item!r} "
                    f"(built in: {', '.join(defaults)}; or give id, label, fields, headings)"
                )
            out.append(defaults[item])
        elif isinstance(item, dict):
            try:
                out.append(CardCheck.model_validate(item))
            except ValueError as exc:
                raise PolicyError(f"{where}: card_checklist[{i}]: {exc}") from None
        else:
            raise PolicyError(f"{where}: card_checklist[{i}] must be a name or a mapping")
    return tuple(out)


__all__ = ["DEFAULT_CHECKLIST", "CardCheck", "CardFacts", "CardItem", "check_card", "sections"]
