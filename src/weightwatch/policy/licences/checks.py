"""Machine checks for licence obligations, over a ``Distribution`` value (no I/O).

Each check kind is a function registered by name; a catalogue entry names its kind and
arguments, so adding a kind is a new function here, not an edit to a dispatcher. A
check answers ``met``, ``unmet`` or ``unknown`` (what it needs is not known) and a short
detail saying what it looked at.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from weightwatch.errors import PolicyError

Status = Literal["met", "unmet", "unknown"]


@dataclass(frozen=True)
class Distribution:
    """What a release ships, as far as licence checks can see it.

    ``texts`` holds the text of small licence-like files (LICENSE, NOTICE, ...), keyed by
    relative path; ``files`` every relative path. ``declared_licences`` holds the card's
    own value and its catalogue id.
    """

    name: str | None
    declared_licences: frozenset[str]
    card_text: str
    files: tuple[str, ...]
    texts: Mapping[str, str] = field(default_factory=dict)
    parent_names: tuple[str, ...] = ()
    parents_ship: frozenset[str] = frozenset()  # file names the parents are known to ship


@dataclass(frozen=True)
class CheckResult:
    status: Status
    detail: str


CheckFn = Callable[[Distribution, Mapping[str, Any]], CheckResult]
CHECKS: dict[str, CheckFn] = {}
# Arguments each kind requires, validated when the catalogue is loaded.
REQUIRED_ARGS: dict[str, tuple[str, ...]] = {}


def check(kind: str, *required: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[kind] = fn
        REQUIRED_ARGS[kind] = required
        return fn

    return register


def _norm(text: str) -> str:
    """Case and whitespace folded, typographic quotes straightened, for phrase search."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip().lower()


def _matches(path: str, patterns: list[str]) -> bool:
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)


def _phrases(args: Mapping[str, Any], key: str) -> list[str]:
    value = args.get(key, [])
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@check("file_present", "patterns")
def file_present(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    """A top-level or nested file whose name matches, containing a phrase if asked."""
    patterns = _phrases(args, "patterns")
    found = [f for f in dist.files if _matches(f, patterns)]
    if not found:
        return CheckResult("unmet", f"no file matching {', '.join(patterns)}")
    wanted = [_norm(p) for p in _phrases(args, "contains_any")]
    if not wanted:
        return CheckResult("met", f"found {found[0]}")
    for f in found:
        text = dist.texts.get(f)
        if text is not None and any(w in _norm(text) for w in wanted):
            return CheckResult("met", f"found {f}")
    unread = [f for f in found if f not in dist.texts]
    if unread and len(unread) == len(found):
        return CheckResult("unknown", f"{unread[0]} could not be read")
    quoted = " or ".join(repr(p) for p in _phrases(args, "contains_any"))
    return CheckResult("unmet", f"{', '.join(found)} does not mention {quoted}")


@check("file_present_if_parent_has", "patterns")
def file_present_if_parent_has(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    """Apache-2.0 §4(d): a NOTICE is owed only if the work received came with one."""
    patterns = _phrases(args, "patterns")
    if not any(_matches(f, patterns) for f in dist.parents_ship):
        if dist.parents_ship:
            return CheckResult("met", "the parent ships no such file")
        return CheckResult("unknown", "the parent's files are not known")
    return file_present(dist, args)


@check("card_contains", "any")
def card_contains(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    phrases = _phrases(args, "any")
    card = _norm(dist.card_text)
    for p in phrases:
        if _norm(p) in card:
            return CheckResult("met", f"the card says {p!r}")
    return CheckResult("unmet", f"the card never says {' or '.join(repr(p) for p in phrases)}")


def _name_words(name: str) -> str:
    return re.sub(r"[-_\s]+", " ", name.rsplit("/", 1)[-1]).strip().lower()


@check("name_prefix", "prefix")
def name_prefix(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    """The model name (organisation dropped) begins with the prefix; case and separators
    (``-``, ``_``, spaces) are not significant, so ``llama-3.1-8b-x`` satisfies "Llama"."""
    prefix = str(args["prefix"])
    if not dist.name:
        return CheckResult("unknown", "the model has no name to check")
    if _name_words(dist.name).startswith(_name_words(prefix)):
        return CheckResult("met", f"name {dist.name!r} begins with {prefix!r}")
    return CheckResult("unmet", f"name {dist.name!r} does not begin with {prefix!r}")


@check("declared_licence_in", "ids")
def declared_licence_in(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    ids = {i.lower() for i in _phrases(args, "ids")}
    if dist.declared_licences & ids:
        return CheckResult("met", f"the card declares {sorted(dist.declared_licences & ids)[0]}")
    declared = ", ".join(sorted(dist.declared_licences)) or "no licence"
    return CheckResult("unmet", f"the card declares {declared}, not one of {sorted(ids)}")


@check("card_names_parent")
def card_names_parent(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    """The card credits the licensed source: its name in the text or in ``base_model``."""
    if not dist.parent_names:
        return CheckResult("unknown", "no parent name to look for")
    card = _norm(dist.card_text)
    for name in dist.parent_names:
        if _norm(name.split("@", 1)[0]) in card:
            return CheckResult("met", f"the card names {name}")
    return CheckResult("unmet", f"the card never names {', '.join(dist.parent_names)}")


@check("any_of", "checks")
def any_of(dist: Distribution, args: Mapping[str, Any]) -> CheckResult:
    results = [run_check(dist, sub) for sub in args["checks"]]
    for r in results:
        if r.status == "met":
            return r
    status: Status = "unknown" if any(r.status == "unknown" for r in results) else "unmet"
    return CheckResult(status, "; ".join(r.detail for r in results))


def run_check(dist: Distribution, spec: Mapping[str, Any]) -> CheckResult:
    return CHECKS[str(spec["kind"])](dist, spec)


def validate_check(spec: Any, where: str) -> None:
    """Raise PolicyError naming ``where`` if a check spec is malformed."""
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise PolicyError(f"{where}: a check needs a 'kind'")
    kind = spec["kind"]
    if kind not in CHECKS:
        raise PolicyError(f"{where}: unknown check kind {kind!r} (known: {', '.join(CHECKS)})")
    missing = [a for a in REQUIRED_ARGS[kind] if a not in spec]
    if missing:
        raise PolicyError(f"{where}: check {kind!r} needs {', '.join(missing)}")
    if kind == "any_of":
        subs = spec["checks"]
        if not isinstance(subs, list) or not subs:
            raise PolicyError(f"{where}: any_of needs a non-empty list of checks")
        for i, sub in enumerate(subs):
            validate_check(sub, f"{where}.checks[{i}]")


__all__ = [
    "CHECKS",
    "CheckResult",
    "Distribution",
    "Status",
    "check",
    "run_check",
    "validate_check",
]
