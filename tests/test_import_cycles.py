"""No import cycles between weightwatch's modules, read statically from the source.

A cycle works until someone reorders two imports, then fails with a half-initialised
module; hidden behind a function-local import or ``importlib`` it is found only then.
The graph therefore counts every import: top-level, function-local, and
``importlib.import_module("weightwatch.…")`` with a literal name (an f-string with a
literal ``"weightwatch.pkg."`` prefix counts as importing every module of ``pkg``), and
plugin discovery, ``….discover(__name__)`` or ``….discover("weightwatch.pkg")`` (see
``weightwatch.plugins``), which imports every module of the package. Imports under
``if TYPE_CHECKING:`` are left out: they never run.

Edges go to the module named, not to its parent packages: Python imports a package's
``__init__`` before its submodules, but a package being initialised is already in
``sys.modules``, so that implicit edge cannot deadlock and every tool leaves it out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "weightwatch"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _children(package: str, known: dict[str, Path]) -> list[str]:
    """The modules directly inside ``package``."""
    prefix = package + "."
    return [m for m in known if m.startswith(prefix) and "." not in m[len(prefix) :]]


def _is_discover(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and func.attr == "discover"


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )


def imports_of(
    name: str, source: str, known: dict[str, Path], *, is_package: bool = False
) -> dict[str, int]:
    """The weightwatch modules ``name`` imports, each with the first line that does."""
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        # the longest prefix that is a module: ``a.b.func`` → ``a.b``
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.setdefault(target, line)

    for node in _runtime_nodes(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == ROOT:
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            if base.split(".")[0] != ROOT:
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in known else base, node.lineno)
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if arg.value.split(".")[0] == ROOT:
                    add(arg.value, node.lineno)
            elif isinstance(arg, ast.JoinedStr) and arg.values:
                head = arg.values[0]
                if isinstance(head, ast.Constant) and str(head.value).startswith(f"{ROOT}."):
                    for child in _children(str(head.value).rstrip("."), known):
                        add(child, node.lineno)
        elif isinstance(node, ast.Call) and _is_discover(node.func) and node.args:
            arg = node.args[0]
            package = None
            if isinstance(arg, ast.Name) and arg.id == "__name__" and is_package:
                package = name
            elif isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] == ROOT:
                package = str(arg.value)
            for child in _children(package, known) if package else ():
                add(child, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {
        name: imports_of(name, path.read_text(), known, is_package=path.name == "__init__.py")
        for name, path in known.items()
    }


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the module count
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def describe(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    members = set(component)
    edges = [
        f"    {a} -> {b} (line {line})"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in members
    ]
    return "\n".join([f"cycle among {', '.join(component)}:", *edges])


def _report(found: list[list[str]], graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(describe(graph, c) for c in found)


def test_the_graph_sees_every_kind_of_import() -> None:
    """The scanner itself: relative, function-local and importlib imports are edges."""
    names = ("p", "p.a", "p.b", "p.c", "p.d", "q", "q.x", "r", "r.y", "r.z")
    known = {f"{ROOT}.{n}": Path() for n in names}
    src = (
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "from .c import thing\n"
        "import importlib\n"
        "if TYPE_CHECKING:\n"
        "    from weightwatch import q\n"
        "def f():\n"
        "    importlib.import_module('weightwatch.p.d')\n"
        "    from weightwatch.q import x\n"
        "    plugins.discover('weightwatch.r')\n"
    )
    got = imports_of(f"{ROOT}.p.a", src, known)
    assert set(got) == {f"{ROOT}.{n}" for n in ("p.b", "p.c", "p.d", "q.x", "r.y", "r.z")}
    got = imports_of(f"{ROOT}.r", "PLUGINS.discover(__name__)\n", known, is_package=True)
    assert set(got) == {f"{ROOT}.r.y", f"{ROOT}.r.z"}
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, _report(found, graph)
