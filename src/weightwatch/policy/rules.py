"""The policy language: conditions over fact paths, combined with all / any / not.

A condition is a small object with one method, ``holds(ctx)``; ``{fact: PATH, OP: ARG}``
tests one fact, ``{all: [...]}``, ``{any: [...]}`` and ``{not: ...}`` combine others.
Operators are registered by name in ``OPERATORS``, so a new one is a new function, not a
new branch. A fact that is absent (no scan report, no audit) satisfies only ``exists:
false`` and ``empty: true``: every other test is false on it, so a rule never fires on
a value nobody measured — policies that must fail closed say so with ``exists: false``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Union

from pydantic import BaseModel

from weightwatch.errors import PolicyError
from weightwatch.policy.facts import Facts


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Context:
    """The facts (JSON form) and, inside ``for_each``, the current item."""

    facts: Mapping[str, Any]
    item: Any = MISSING

    def get(self, path: str) -> Any:
        parts = path.split(".")
        value: Any = self.item if parts[0] == "item" else self.facts
        for part in parts[1:] if parts[0] == "item" else parts:
            if isinstance(value, Mapping):
                value = value.get(part, MISSING)
            elif isinstance(value, list) and part.isdigit():
                value = value[int(part)] if int(part) < len(value) else MISSING
            else:
                return MISSING
            if value is None:
                return MISSING
        return value


class Condition(Protocol):
    def holds(self, ctx: Context) -> bool: ...


# -- operators -------------------------------------------------------------------------

OpFn = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Operator:
    fn: OpFn
    accepts: Callable[[Any], bool]  # is the YAML argument valid?
    expects: str  # for error messages
    missing: Callable[[Any], bool] = lambda arg: False  # result on an absent fact


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _cmp(fn: Callable[[float, float], bool]) -> OpFn:
    return lambda v, a: _num(v) and fn(float(v), float(a))


def _contains(v: Any, a: Any) -> bool:
    if isinstance(v, str):
        return isinstance(a, str) and a.lower() in v.lower()
    if isinstance(v, list | tuple):
        return a in v
    if isinstance(v, Mapping):
        return a in v
    return False


def _matches(v: Any, a: Any) -> bool:
    return isinstance(v, str) and re.search(a, v) is not None


def _valid_regex(a: Any) -> bool:
    if not isinstance(a, str):
        return False
    try:
        re.compile(a)
    except re.error:
        return False
    return True


def _empty(v: Any) -> bool:
    return v in ("", [], {}) or (isinstance(v, list | dict | str) and len(v) == 0)


_ANY = lambda a: True  # noqa: E731
_LIST = lambda a: isinstance(a, list)  # noqa: E731
_BOOL = lambda a: isinstance(a, bool)  # noqa: E731

OPERATORS: dict[str, Operator] = {
    "eq": Operator(lambda v, a: v == a, _ANY, "a value"),
    "ne": Operator(lambda v, a: v != a, _ANY, "a value"),
    "in": Operator(lambda v, a: v in a, _LIST, "a list"),
    "not_in": Operator(lambda v, a: v not in a, _LIST, "a list"),
    "gt": Operator(_cmp(lambda v, a: v > a), _num, "a number"),
    "gte": Operator(_cmp(lambda v, a: v >= a), _num, "a number"),
    "lt": Operator(_cmp(lambda v, a: v < a), _num, "a number"),
    "lte": Operator(_cmp(lambda v, a: v <= a), _num, "a number"),
    "contains": Operator(_contains, _ANY, "a value"),
    "matches": Operator(_matches, _valid_regex, "a valid regular expression"),
    "exists": Operator(lambda v, a: a is True, _BOOL, "true or false", lambda a: a is False),
    "empty": Operator(lambda v, a: _empty(v) == a, _BOOL, "true or false", lambda a: a is True),
    "len_gte": Operator(
        lambda v, a: isinstance(v, list | dict | str) and len(v) >= a, _num, "a number"
    ),
}


@dataclass(frozen=True)
class FactTest:
    """``{fact: PATH, OP: ARG, ...}``: every operator given must hold."""

    path: str
    tests: tuple[tuple[str, Any], ...]

    def holds(self, ctx: Context) -> bool:
        value = ctx.get(self.path)
        for op, arg in self.tests:
            o = OPERATORS[op]
            ok = o.missing(arg) if value is MISSING else o.fn(value, arg)
            if not ok:
                return False
        return True


@dataclass(frozen=True)
class All:
    conditions: tuple[Condition, ...]

    def holds(self, ctx: Context) -> bool:
        return all(c.holds(ctx) for c in self.conditions)


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]

    def holds(self, ctx: Context) -> bool:
        return any(c.holds(ctx) for c in self.conditions)


@dataclass(frozen=True)
class Not:
    condition: Condition

    def holds(self, ctx: Context) -> bool:
        return not self.condition.holds(ctx)


# -- fact paths, checked against the Facts schema --------------------------------------


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def resolve_type(root: Any, parts: Sequence[str]) -> Any:
    """The type at ``parts`` below ``root``, or raise KeyError naming the bad segment."""
    tp = _unwrap(root)
    for part in parts:
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                raise KeyError(part)
            tp = _unwrap(tp.model_fields[part].annotation)
        elif origin in (list, tuple, Sequence) and part.isdigit():
            tp = _unwrap(typing.get_args(tp)[0])
        elif origin in (dict, Mapping):
            tp = _unwrap(typing.get_args(tp)[1])
        else:
            raise KeyError(part)
    return tp


def item_type(path: str) -> Any:
    """The element type of the list at ``path`` (for ``for_each``)."""
    tp = resolve_type(Facts, path.split("."))
    if typing.get_origin(tp) not in (list, tuple):
        raise KeyError(path)
    return _unwrap(typing.get_args(tp)[0])


def check_path(path: str, item: Any | None) -> str | None:
    """A problem with a fact path, or None if it names a fact."""
    parts = path.split(".")
    if parts[0] == "item":
        if item is None:
            return f"{path!r} uses 'item' outside a for_each rule"
        root, rest = item, parts[1:]
    else:
        root, rest = Facts, parts
    try:
        resolve_type(root, rest)
    except KeyError as exc:
        return f"unknown fact path {path!r} (no {exc.args[0]!r} there)"
    return None


# -- parsing ---------------------------------------------------------------------------

COMBINATORS = ("all", "any", "not")


def parse_condition(raw: Any, where: str, *, item: Any | None) -> Condition:
    """A condition from YAML; raises PolicyError naming ``where`` (a YAML path)."""
    if not isinstance(raw, Mapping) or not raw:
        raise PolicyError(f"{where}: a condition is a mapping: fact, all, any or not")
    keys = set(raw)
    if keys & set(COMBINATORS):
        if len(keys) != 1:
            raise PolicyError(f"{where}: {sorted(keys)}: all/any/not stand alone in a mapping")
        (kind,) = keys
        body = raw[kind]
        if kind == "not":
            return Not(parse_condition(body, f"{where}.not", item=item))
        if not isinstance(body, list) or not body:
            raise PolicyError(f"{where}.{kind}: needs a non-empty list of conditions")
        subs = tuple(
            parse_condition(c, f"{where}.{kind}[{i}]", item=item) for i, c in enumerate(body)
        )
        return All(subs) if kind == "all" else AnyOf(subs)
    if "fact" not in raw:
        raise PolicyError(
            f"{where}: unknown condition keys {sorted(keys)} (use fact, all, any or not)"
        )
    path = raw["fact"]
    if not isinstance(path, str):
        raise PolicyError(f"{where}.fact: must be a dotted path such as scan.verdict")
    problem = check_path(path, item)
    if problem:
        raise PolicyError(f"{where}.fact: {problem}")
    tests: list[tuple[str, Any]] = []
    for op, arg in raw.items():
        if op == "fact":
            continue
        if op not in OPERATORS:
            raise PolicyError(f"{where}: unknown operator {op!r} (known: {', '.join(OPERATORS)})")
        if not OPERATORS[op].accepts(arg):
            raise PolicyError(f"{where}.{op}: expects {OPERATORS[op].expects}, got {arg!r}")
        tests.append((op, arg))
    if not tests:
        raise PolicyError(f"{where}: fact {path!r} has no operator (eq, in, gte, exists, ...)")
    return FactTest(path, tuple(tests))


# -- reason templates ------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")


def check_template(template: str, item: Any | None) -> str | None:
    for m in _PLACEHOLDER.finditer(template):
        problem = check_path(m.group(1), item)
        if problem:
            return problem
    return None


def _render_value(v: Any) -> str:
    if v is MISSING:
        return "unknown"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        return ", ".join(_render_value(x) for x in v) or "none"
    return str(v)


def render(template: str, ctx: Context) -> str:
    """``{path}`` replaced by the fact's value; nothing else in the template is special."""
    return _PLACEHOLDER.sub(lambda m: _render_value(ctx.get(m.group(1))), template)


__all__ = [
    "MISSING",
    "OPERATORS",
    "All",
    "AnyOf",
    "Condition",
    "Context",
    "FactTest",
    "Not",
    "Operator",
    "check_path",
    "check_template",
    "item_type",
    "parse_condition",
    "render",
]
