"""The rule language: operators, combinators, absent facts, paths, templates."""

from __future__ import annotations

import pytest

from weightwatch.errors import PolicyError
from weightwatch.policy.rules import (
    MISSING,
    All,
    AnyOf,
    Context,
    Not,
    check_path,
    item_type,
    parse_condition,
    render,
)

DOC = {
    "scan": {"verdict": "malicious", "counts": {"critical": 2, "low": 0}, "rule_ids": ["A", "B"]},
    "compute": {"flop": 3.8e25, "tier": "eu", "assumptions": []},
    "subject": {"name": "acme/Llama-x", "access": "public"},
    "lineage": {"parents": [{"name": "p1", "status": "gated"}, {"name": "p2", "status": None}]},
    "audit": None,
}
CTX = Context(DOC)


def holds(raw: object, ctx: Context = CTX, item: object = None) -> bool:
    return parse_condition(raw, "when", item=item).holds(ctx)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"fact": "scan.verdict", "eq": "malicious"}, True),
        ({"fact": "scan.verdict", "ne": "malicious"}, False),
        ({"fact": "scan.verdict", "in": ["clean", "malicious"]}, True),
        ({"fact": "scan.verdict", "not_in": ["clean"]}, True),
        ({"fact": "scan.counts.critical", "gte": 2}, True),
        ({"fact": "scan.counts.critical", "gt": 2}, False),
        ({"fact": "scan.counts.low", "lte": 0}, True),
        ({"fact": "scan.counts.low", "lt": 0}, False),
        ({"fact": "compute.flop", "gte": 1e25, "lt": 1e26}, True),
        ({"fact": "compute.flop", "gte": 1e25, "lt": 1e24}, False),
        ({"fact": "scan.rule_ids", "contains": "B"}, True),
        ({"fact": "scan.rule_ids", "contains": "C"}, False),
        ({"fact": "subject.name", "contains": "llama"}, True),
        ({"fact": "subject.name", "matches": r"/Llama-"}, True),
        ({"fact": "subject.name", "matches": r"^Llama"}, False),
        ({"fact": "scan.rule_ids", "len_gte": 2}, True),
        ({"fact": "compute.assumptions", "empty": True}, True),
        ({"fact": "scan.rule_ids", "empty": True}, False),
        ({"fact": "scan", "exists": True}, True),
        ({"fact": "audit", "exists": False}, True),
        ({"fact": "lineage.parents.0.status", "eq": "gated"}, True),
        ({"fact": "lineage.parents.5.status", "exists": False}, True),
    ],
)
def test_operators(cond: dict[str, object], expected: bool) -> None:
    assert holds(cond) is expected


def test_absent_facts_only_satisfy_exists_false_and_empty() -> None:
    for op, arg in [
        ("eq", None),
        ("ne", "x"),
        ("not_in", ["x"]),
        ("lt", 1),
        ("contains", "x"),
        ("matches", ".*"),
    ]:
        assert holds({"fact": "audit.verdict", op: arg}) is False, op
    assert holds({"fact": "audit.verdict", "exists": False})
    assert holds({"fact": "audit.verdict", "empty": True})
    assert not holds({"fact": "audit.verdict", "exists": True})


def test_combinators() -> None:
    t = {"fact": "scan.verdict", "eq": "malicious"}
    f = {"fact": "scan.verdict", "eq": "clean"}
    assert holds({"all": [t, t]}) and not holds({"all": [t, f]})
    assert holds({"any": [f, t]}) and not holds({"any": [f, f]})
    assert holds({"not": f}) and not holds({"not": t})
    assert holds({"all": [{"any": [f, t]}, {"not": {"all": [t, f]}}]})
    c = parse_condition({"any": [t, {"not": f}]}, "when", item=None)
    assert isinstance(c, AnyOf) and isinstance(c.conditions[1], Not)
    assert isinstance(parse_condition({"all": [t]}, "w", item=None), All)


def test_item_paths_in_for_each() -> None:
    parent = item_type("lineage.parents")
    cond = parse_condition({"fact": "item.status", "eq": "gated"}, "when", item=parent)
    items = DOC["lineage"]["parents"]  # type: ignore[index]
    assert [cond.holds(Context(DOC, it)) for it in items] == [True, False]
    with pytest.raises(PolicyError, match="outside a for_each"):
        parse_condition({"fact": "item.status", "eq": "x"}, "when", item=None)
    with pytest.raises(PolicyError, match="no 'colour'"):
        parse_condition({"fact": "item.colour", "eq": "x"}, "when", item=parent)
    with pytest.raises(KeyError):
        item_type("scan.verdict")


def test_paths_checked_against_the_facts_schema() -> None:
    assert check_path("scan.counts.anything", None) is None  # dict keys are open
    assert check_path("licence.obligations.0.clause", None) is None
    assert check_path("compute.modification.ratio", None) is None
    assert "no 'verdikt'" in str(check_path("scan.verdikt", None))
    assert "no 'x'" in str(check_path("scan.verdict.x", None))


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"fact": "scan.verdict", "equals": "x"}, "unknown operator 'equals'"),
        ({"fact": "scan.verdict"}, "has no operator"),
        ({"fact": "scan.verdict", "in": "clean"}, r"when.in: expects a list"),
        ({"fact": "compute.flop", "gte": "1e25"}, "expects a number"),
        ({"fact": "subject.name", "matches": "("}, "valid regular expression"),
        ({"fact": "scan", "exists": "yes"}, "true or false"),
        ({"fact": 3, "eq": 1}, "dotted path"),
        ({"all": []}, "non-empty list"),
        ({"all": [{"fact": "scan.verdict", "eq": 1}], "any": []}, "stand alone"),
        ({"when": 1}, "unknown condition keys"),
        ([], "a condition is a mapping"),
        ({"not": {"fact": "nope", "eq": 1}}, r"when.not.fact: unknown fact path 'nope'"),
        (
            {"any": [{"fact": "scan.verdict", "eq": 1}, {"fact": "x.y", "eq": 1}]},
            r"when.any\[1\].fact",
        ),
    ],
)
def test_condition_errors(raw: object, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        parse_condition(raw, "when", item=None)


def test_render_templates() -> None:
    ctx = Context(DOC, {"name": "p1", "score": 0.912345, "ok": True, "via": ["a", "b"], "none": []})
    assert (
        render("{item.name} {item.score} {item.ok} {item.via} {item.none}", ctx)
        == "p1 0.912 yes a, b none"
    )
    assert render("{compute.flop} FLOP, {audit.verdict}", ctx) == "3.8e+25 FLOP, unknown"
    assert render("literal {not a placeholder} {0}", ctx) == "literal {not a placeholder} {0}"
    assert Context(DOC).get("scan.nothing") is MISSING
