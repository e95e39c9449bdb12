"""Policies and decisions: YAML rules over facts → publish, gate, quarantine or block.

Every rule that fires contributes its action and a reason; the strictest action wins
(``publish < gate < quarantine < block``) and every reason is kept, so a human sees all
that is wrong at once. A rule with ``action: publish`` is a warning. A rule may also
raise the access floor (``access: restricted``). ``load_policy`` validates the whole
file up front — fact paths against the Facts schema, operators, templates — and names
the file, line and rule in a ``PolicyError``; evaluation itself cannot fail.

A reviewer may *waive* quarantine reasons (by rule id and exact message) after examining
a model: they are kept in ``Decision.waived`` but no longer count. Only quarantines can
be waived; blocks, gates and warnings always apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from weightwatch.errors import PolicyError
from weightwatch.policy.build import FactsConfig
from weightwatch.policy.card import parse_checklist
from weightwatch.policy.facts import ACCESS_ORDER, Access, Facts
from weightwatch.policy.licences import load_catalogue
from weightwatch.policy.rules import (
    MISSING,
    Condition,
    Context,
    check_template,
    item_type,
    parse_condition,
    render,
)
from weightwatch.reports import Record, Report

Action = Literal["publish", "gate", "quarantine", "block"]
ACTIONS: tuple[Action, ...] = ("publish", "gate", "quarantine", "block")
_RULE_KEYS = {"id", "description", "for_each", "when", "action", "access", "reason", "require"}
#: what a rule may require of the registry besides an action: ``weight_watermark`` makes
#: the registry serve the weights only as watermarked copies (``registry.recipients``)
REQUIREMENTS = ("weight_watermark",)
_TOP_KEYS = {"schema_version", "id", "version", "description", "extends", "disable", "facts"}
_TOP_KEYS |= {"rules"}


@dataclass(frozen=True)
class Rule:
    id: str
    action: Action
    reason: str
    when: Condition | None = None
    for_each: str | None = None
    access: Access | None = None
    description: str = ""
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy; ``digest`` covers the rule text it was built from."""

    id: str
    version: str
    rules: tuple[Rule, ...]
    facts_config: FactsConfig
    source: str
    digest: str
    description: str = ""


class Reason(Record):
    rule_id: str
    action: Action
    message: str


class Requirement(Record):
    """Something a fired rule requires of the registry besides its action."""

    requirement: str  # one of REQUIREMENTS
    rule_id: str


class Decision(Report):
    """The outcome for one model: stable JSON, one canonical serialization."""

    action: Action
    access: Access
    reasons: list[Reason]
    policy_id: str
    policy_version: str
    policy_digest: str
    facts_digest: str
    waived: list[Reason] = Field(
        default_factory=list, description="quarantine reasons a reviewer released"
    )
    requirements: list[Requirement] = Field(
        default_factory=list, description="what fired rules require (``REQUIREMENTS``)"
    )

    @property
    def warnings(self) -> list[Reason]:
        return [r for r in self.reasons if r.action == "publish"]

    def to_json(self) -> dict[str, Any]:
        """The JSON form; ``waived`` only when a reviewer waived something, so decisions
        without one keep the form (and digest) they always had."""
        doc = self.model_dump(mode="json")
        for optional in ("waived", "requirements"):  # absent when empty: old digests hold
            if not doc[optional]:
                del doc[optional]
        return doc

    def canonical(self) -> bytes:
        """``canonical_json``: what a logged decision is hashed and re-checked by."""
        return self.canonical_json()


def strictest(a: Action, b: Action) -> Action:
    return a if ACTIONS.index(a) >= ACTIONS.index(b) else b


def evaluate(facts: Facts, policy: Policy, *, waive: Collection[tuple[str, str]] = ()) -> Decision:
    """Judge ``facts`` by every rule of ``policy``; the strictest action wins. Quarantine
    reasons named in ``waive`` as ``(rule_id, message)`` go to ``waived`` instead: they
    neither quarantine nor raise the access floor."""
    doc = facts.to_json()
    action: Action = "publish"
    access: Access = facts.subject.access
    reasons: list[Reason] = []
    waived: list[Reason] = []
    required: list[Requirement] = []
    released = set(waive)
    seen: set[tuple[str, str]] = set()
    for rule in policy.rules:
        if rule.for_each is None:
            contexts = [Context(doc)]
        else:
            items = Context(doc).get(rule.for_each)
            contexts = [Context(doc, it) for it in (items if items is not MISSING else [])]
        for ctx in contexts:
            if rule.when is not None and not rule.when.holds(ctx):
                continue
            message = render(rule.reason, ctx)
            if (rule.id, message) in seen:
                continue
            seen.add((rule.id, message))
            reason = Reason(rule_id=rule.id, action=rule.action, message=message)
            if rule.action == "quarantine" and (rule.id, message) in released:
                waived.append(reason)
                continue
            reasons.append(reason)
            required += [
                Requirement(requirement=r, rule_id=rule.id)
                for r in rule.require
                if Requirement(requirement=r, rule_id=rule.id) not in required
            ]
            action = strictest(action, rule.action)
            if rule.access is not None and ACCESS_ORDER.index(rule.access) > ACCESS_ORDER.index(
                access
            ):
                access = rule.access
    if action == "gate" and access == "public":
        access = "gated"
    return Decision(
        action=action,
        access=access,
        reasons=reasons,
        policy_id=policy.id,
        policy_version=policy.version,
        policy_digest=policy.digest,
        facts_digest=facts.digest(),
        waived=waived,
        requirements=required,
    )


# -- loading ---------------------------------------------------------------------------


class _Lines:
    """Line numbers of YAML nodes by path (``("rules", 3, "when")``), for error messages."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.node = node

    def line(self, *path: str | int) -> int | None:
        node = self.node
        best = node.start_mark.line + 1 if node is not None else None
        for part in path:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                nxt = node.value[part] if part < len(node.value) else None
            if nxt is None:
                break
            node = nxt
            best = node.start_mark.line + 1
        return best


def _parse_yaml(text: str, where: str) -> tuple[Any, _Lines]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{where}{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: a policy is a YAML mapping with 'id', 'version', 'rules'")
    return doc, _Lines(node)


def _err(where: str, lines: _Lines, path: tuple[str | int, ...], problem: str) -> PolicyError:
    line = lines.line(*path)
    return PolicyError(f"{where}{f':{line}' if line else ''}: {problem}")


def _parse_rule(raw: Any, i: int, where: str, lines: _Lines) -> Rule:
    label = f"rules[{i}]" + (f" ({raw['id']})" if isinstance(raw, dict) and "id" in raw else "")

    def fail(problem: str, *path: str | int) -> PolicyError:
        return _err(where, lines, ("rules", i, *path), f"{label}: {problem}")

    if not isinstance(raw, dict):
        raise fail("a rule is a mapping with id, action and reason")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    for key in ("id", "action", "reason"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(f"needs a non-empty string {key!r}", key)
    if raw["action"] not in ACTIONS:
        raise fail(f"action must be one of {', '.join(ACTIONS)}, not {raw['action']!r}", "action")
    access = raw.get("access")
    if access is not None and access not in ACCESS_ORDER:
        raise fail(f"access must be one of {', '.join(ACCESS_ORDER)}", "access")
    item = None
    for_each = raw.get("for_each")
    if for_each is not None:
        try:
            item = item_type(str(for_each))
        except KeyError:
            raise fail(f"for_each: {for_each!r} is not a list of facts", "for_each") from None
    when = None
    if "when" in raw:
        try:
            when = parse_condition(raw["when"], "when", item=item)
        except PolicyError as exc:
            raise fail(exc.message, "when") from None
    require = raw.get("require", [])
    require = [require] if isinstance(require, str) else require
    if not isinstance(require, list) or any(r not in REQUIREMENTS for r in require):
        raise fail(f"require must name some of {', '.join(REQUIREMENTS)}", "require")
    problem = check_template(raw["reason"], item)
    if problem:
        raise fail(f"reason: {problem}", "reason")
    return Rule(
        id=raw["id"],
        action=raw["action"],
        reason=raw["reason"],
        when=when,
        for_each=str(for_each) if for_each is not None else None,
        access=access,
        description=str(raw.get("description", "")),
        require=tuple(require),
    )


def _facts_config(raw: Any, where: str, lines: _Lines, base_dir: Path | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _err(where, lines, ("facts",), "facts: must be a mapping")
    out: dict[str, Any] = {}
    unknown = set(raw) - {"compute_tiers", "card_checklist", "licence_files"}
    if unknown:
        raise _err(where, lines, ("facts",), f"facts: unknown keys {sorted(unknown)}")
    tiers = raw.get("compute_tiers")
    if tiers is not None:
        if not isinstance(tiers, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in tiers.values()
        ):
            raise _err(
                where,
                lines,
                ("facts", "compute_tiers"),
                "facts.compute_tiers: a mapping of tier name to a positive FLOP figure",
            )
        out["tiers"] = {str(k): float(v) for k, v in tiers.items()}
    if "card_checklist" in raw:
        line = lines.line("facts", "card_checklist")
        out["checklist"] = parse_checklist(
            raw["card_checklist"], f"{where}{f':{line}' if line else ''}: facts"
        )
    files = raw.get("licence_files")
    if files is not None:
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise _err(where, lines, ("facts", "licence_files"), "licence_files: a list of paths")
        out["licence_files"] = [
            str((base_dir / f) if base_dir and not Path(f).is_absolute() else f) for f in files
        ]
    return out


def _load(text: str, where: str, base_dir: Path | None, depth: int) -> Policy:
    if depth > 8:
        raise PolicyError(f"{where}: 'extends' nests more than 8 deep (a cycle?)")
    doc, lines = _parse_yaml(text, where)
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise _err(where, lines, (), f"unknown top-level keys {sorted(unknown)}")
    if str(doc.get("schema_version", "1")) != "1":
        raise _err(where, lines, ("schema_version",), "schema_version must be 1")
    for key in ("id", "version"):
        if not isinstance(doc.get(key), str | int | float) or doc.get(key) in ("", None):
            raise _err(where, lines, (key,), f"a policy needs {key!r}")
    base: Policy | None = None
    if "extends" in doc:
        ext = doc["extends"]
        if ext == "default":
            base = default_policy()
        elif isinstance(ext, str):
            path = (base_dir / ext) if base_dir and not Path(ext).is_absolute() else Path(ext)
            base = _load(_read(path), str(path), path.parent, depth + 1)
        else:
            raise _err(where, lines, ("extends",), "extends: 'default' or a policy file path")
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list) or (not raw_rules and base is None):
        raise _err(where, lines, ("rules",), "rules: a non-empty list of rules")
    rules = [_parse_rule(r, i, where, lines) for i, r in enumerate(raw_rules)]
    ids = [r.id for r in rules]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise _err(where, lines, ("rules",), f"rule ids used twice: {', '.join(dupes)}")
    settings = _facts_config(doc.get("facts"), where, lines, base_dir)
    disable = doc.get("disable", [])
    if not isinstance(disable, list):
        raise _err(where, lines, ("disable",), "disable: a list of rule ids")
    if base is not None:
        known = {r.id for r in base.rules}
        stray = [d for d in disable if d not in known]
        if stray:
            raise _err(where, lines, ("disable",), f"disable: no rule {stray[0]!r} in the base")
        mine = {r.id: r for r in rules}
        merged = [mine.pop(r.id, r) for r in base.rules if r.id not in disable]
        rules = merged + [r for r in rules if r.id in mine]
        cfg = base.facts_config
    elif disable:
        raise _err(where, lines, ("disable",), "disable: only with 'extends'")
    else:
        cfg = FactsConfig()
    catalogue = cfg.catalogue
    if "licence_files" in settings:
        catalogue = load_catalogue(settings["licence_files"])
    facts_config = FactsConfig(
        tiers=settings.get("tiers", cfg.tiers),
        checklist=settings.get("checklist", cfg.checklist),
        catalogue=catalogue,
    )
    digest = hashlib.sha256(text.encode("utf-8"))
    if base is not None:
        digest.update(base.digest.encode())
    return Policy(
        id=str(doc["id"]),
        version=str(doc["version"]),
        rules=tuple(rules),
        facts_config=facts_config,
        source=where,
        digest="sha256:" + digest.hexdigest(),
        description=str(doc.get("description", "")),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc}") from None


def default_policy() -> Policy:
    text = resources.files("weightwatch.policy").joinpath("default.yaml").read_text("utf-8")
    return _load(text, "weightwatch/policy/default.yaml", None, 0)


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy in ``path``, or the shipped default policy when ``path`` is None."""
    if path is None:
        return default_policy()
    p = Path(path)
    return _load(_read(p), str(p), p.parent, 0)


def loads_policy(text: str, *, source: str = "<policy>") -> Policy:
    """A policy from YAML text (relative ``extends`` paths resolve from the cwd)."""
    return _load(text, source, None, 0)


__all__ = [
    "ACTIONS",
    "REQUIREMENTS",
    "Action",
    "Decision",
    "Policy",
    "Reason",
    "Requirement",
    "Rule",
    "default_policy",
    "evaluate",
    "load_policy",
    "loads_policy",
    "strictest",
]
