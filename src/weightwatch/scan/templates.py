"""Static analysis of Jinja chat templates: parsed with jinja2's parser, never rendered.

Known chat templates use ``messages``, loops, ``namespace()`` and a few filters; sandbox
escapes go through dunder attributes (``__class__``, ``__globals__`` …), template globals
that expose Python objects (``cycler``, ``joiner``, ``lipsum``, ``self``), attribute names
built at render time, or other templates (include/import/extends).
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from weightwatch.scan import rules
from weightwatch.scan.findings import Finding, Location

ESCAPE_GLOBALS = frozenset(
    {
        "cycler",
        "joiner",
        "lipsum",
        "self",
        "config",
        "request",
        "url_for",
        "get_flashed_messages",
        "range.__class__",
    }
)
ATTR_FILTERS = frozenset(
    {"attr", "map", "selectattr", "rejectattr", "groupby", "sort", "sum", "unique", "min", "max"}
)


def _dunder(name: object) -> bool:
    return isinstance(name, str) and name.startswith("_")


def analyze_template(text: str, location: Location) -> Iterator[Finding]:
    env = Environment(autoescape=True)  # parse only: nothing is compiled or rendered
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as exc:
        yield rules.TEMPLATE_UNPARSEABLE.finding(location, f"line {exc.lineno}: {exc.message}")
        return
    except RecursionError:
        yield rules.TEMPLATE_UNPARSEABLE.finding(location, "template nests too deeply to parse")
        return
    seen: set[str] = set()

    def once(key: str, finding: Finding) -> Iterator[Finding]:
        if key not in seen:
            seen.add(key)
            yield finding

    for node in tree.find_all(
        (
            nodes.Getattr,
            nodes.Getitem,
            nodes.Name,
            nodes.Filter,
            nodes.Include,
            nodes.Import,
            nodes.FromImport,
            nodes.Extends,
        )
    ):
        if isinstance(node, nodes.Getattr) and _dunder(node.attr):
            yield from once(
                f"attr:{node.attr}",
                rules.TEMPLATE_ESCAPE.finding(
                    location, f"line {node.lineno}: accesses .{node.attr}", attribute=node.attr
                ),
            )
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and _dunder(key.value):
                yield from once(
                    f"item:{key.value}",
                    rules.TEMPLATE_ESCAPE.finding(
                        location,
                        f"line {node.lineno}: accesses [{key.value!r}]",
                        attribute=str(key.value),
                    ),
                )
            elif (isinstance(key, nodes.Concat | nodes.Add) and not _numeric(key)) or (
                isinstance(key, nodes.Filter)
                and key.name in ("join", "format", "replace", "reverse")
            ):
                yield from once(
                    f"dynitem:{node.lineno}",
                    rules.TEMPLATE_DYNAMIC.finding(
                        location, f"line {node.lineno}: subscript with a name built at render time"
                    ),
                )
        elif isinstance(node, nodes.Name) and node.name in ESCAPE_GLOBALS:
            yield from once(
                f"name:{node.name}",
                rules.TEMPLATE_ESCAPE.finding(
                    location,
                    f"line {node.lineno}: uses the template global {node.name!r}",
                    name=node.name,
                ),
            )
        elif isinstance(node, nodes.Filter) and node.name in ATTR_FILTERS:
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
                if isinstance(arg, nodes.Const) and _dunder(arg.value):
                    yield from once(
                        f"filter:{arg.value}",
                        rules.TEMPLATE_ESCAPE.finding(
                            location,
                            f"line {node.lineno}: |{node.name}({arg.value!r})",
                            attribute=str(arg.value),
                        ),
                    )
                elif node.name == "attr" and not isinstance(arg, nodes.Const):
                    yield from once(
                        f"dynattr:{node.lineno}",
                        rules.TEMPLATE_DYNAMIC.finding(
                            location,
                            f"line {node.lineno}: |attr() with a name built at render time",
                        ),
                    )
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            yield from once(
                f"load:{node.lineno}",
                rules.TEMPLATE_DYNAMIC.finding(
                    location,
                    f"line {node.lineno}: {type(node).__name__.lower()} of another template",
                ),
            )


_LOOP_NUMBERS = frozenset({"index", "index0", "revindex", "revindex0", "length", "depth", "depth0"})


def _numeric(expr: nodes.Expr) -> bool:
    """An index computed from numbers only (``messages[loop.index0 + 1]``, as Qwen2.5's
    template does): an integer cannot name an attribute, so it is not a dynamic lookup."""
    if isinstance(expr, nodes.Const):
        return isinstance(expr.value, int) and not isinstance(expr.value, bool)
    if isinstance(expr, nodes.Getattr):
        return (
            isinstance(expr.node, nodes.Name)
            and expr.node.name == "loop"
            and expr.attr in _LOOP_NUMBERS
        )
    if isinstance(expr, nodes.Filter):
        return expr.name in ("length", "count", "int")
    if isinstance(expr, nodes.Add | nodes.Sub | nodes.Mul | nodes.FloorDiv | nodes.Mod):
        return _numeric(expr.left) and _numeric(expr.right)
    if isinstance(expr, nodes.Neg | nodes.Pos):
        return _numeric(expr.node)
    return False
