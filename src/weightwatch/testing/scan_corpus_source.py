"""A static index of installed Python packages' source, for the scanner's coverage sweeps.

Test and benchmark code only (never run by weightwatch itself): ``SourceIndex.build``
parses every ``.py`` file of the named top-level packages with ``ast`` (nothing is
imported) and keeps, per function, the calls it makes — the callee as written, whether an
argument derives from the function's parameters or ``self`` (a crude taint: what an
attacker choosing a pickle's arguments and state controls), and the constant keyword
arguments the loading-path inventory needs (``weights_only``, ``allow_pickle``…). Names
are resolved through each module's imports and definitions, following re-exports, so
``from subprocess import Popen`` in a framework module resolves to ``subprocess.Popen``.

The index is a JSON-able value (``to_json``/``from_json``) so tests can cache it keyed
by the packages' versions. Limits: calls on computed objects (``x.foo()`` where ``x`` is
a local) are not resolved, so reachability is under-approximated there; taint is
over-approximated (``self`` counts as attacker state, as BUILD sets it).
"""

from __future__ import annotations

import ast
import builtins
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Keyword arguments whose value decides how safe a load is.
FLAG_KWARGS = ("weights_only", "allow_pickle", "safe_mode", "mmap_mode", "trust_remote_code")
_BUILTINS = frozenset(dir(builtins))


@dataclass
class CallSite:
    callee: str  # as written: "os.system", "self.load", "super().__init__", "open"
    line: int
    tainted: bool  # an argument derives from parameters or self
    flags: dict[str, str] = field(default_factory=dict)  # kwarg -> "True"/"False"/"param"/"expr"
    mode: str | None = None  # open()'s mode when constant; "?" when computed
    names: list[str] = field(default_factory=list)  # identifiers in the arguments
    ctx: str = ""  # "try" inside a try body, "except" inside a handler (innermost wins)


@dataclass
class Function:
    module: str
    qualname: str
    line: int
    calls: list[CallSite]
    strings: list[str]  # string constants in the body (file-name conventions)
    names: list[str]  # identifiers loaded in the body (constants it may use)
    params: list[str]
    decorators: list[str] = field(default_factory=list)


@dataclass
class ClassInfo:
    module: str
    name: str
    line: int
    bases: list[str]  # as written
    methods: list[str]


@dataclass
class Module:
    name: str
    path: str
    imports: dict[str, str]  # local alias -> dotted target
    constants: dict[str, str]  # NAME = "string"
    bound: list[str]  # every module-level name (defs, classes, imports, assignments)
    classes: dict[str, ClassInfo]
    functions: dict[str, Function]  # qualname -> summary ("f", "Cls.m")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "super"
        and not node.args
    ):
        return "super()"
    return None


def _flag(node: ast.expr, tainted: set[str]) -> str:
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if any(isinstance(n, ast.Name) and n.id in tainted for n in ast.walk(node)):
        return "param"
    return "expr"


# The nodes that bind names (``_FunctionVisitor._assign`` propagates taint through them).
_BINDINGS = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.NamedExpr,
    ast.For,
    ast.comprehension,
    ast.withitem,
)


class _FunctionVisitor:
    """Summarise one function body: its calls with a parameter taint, strings, names."""

    def __init__(self, module: str, qualname: str, node: ast.FunctionDef | ast.AsyncFunctionDef):
        a = node.args
        self.params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
        self.params += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        self.tainted = set(self.params)
        # The names under each expression asked about, found once: the taint passes and
        # the calls ask about the same expressions again (walking them anew, and every
        # node rather than the bindings, made the test's index 56 CPU s instead of 48).
        self._names_under: dict[int, frozenset[str]] = {}
        body = list(ast.walk(node))
        assigns = [n for n in body if isinstance(n, _BINDINGS)]
        for _ in range(2):  # propagate through assignments, in any order
            for n in assigns:
                self._assign(n)
        self.ctx: dict[int, str] = {}
        for t in (n for n in body if isinstance(n, ast.Try | ast.TryStar)):
            for part, label in ((t.body, "try"), (t.handlers, "except")):
                for stmt in part:
                    for c in ast.walk(stmt):
                        if isinstance(c, ast.Call) and self.ctx.get(id(c)) != "except":
                            self.ctx[id(c)] = label
        calls = [self._call(n) for n in body if isinstance(n, ast.Call)]
        strings = {
            n.value for n in body if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        decorators = [
            _dotted(x.func if isinstance(x, ast.Call) else x) for x in node.decorator_list
        ]
        self.summary = Function(
            module,
            qualname,
            node.lineno,
            [c for c in calls if c is not None],
            sorted(x for x in strings if len(x) < 80),
            sorted({n.id for n in body if isinstance(n, ast.Name)}),
            self.params,
            [d for d in decorators if d],
        )

    def _names(self, node: ast.AST) -> frozenset[str]:
        """The identifiers under ``node`` (itself included)."""
        found = self._names_under.get(id(node))
        if found is None:
            found = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
            self._names_under[id(node)] = found
        return found

    def _is_tainted(self, node: ast.AST | None) -> bool:
        return node is not None and not self._names(node).isdisjoint(self.tainted)

    def _assign(self, n: ast.AST) -> None:
        pairs: list[tuple[ast.AST, ast.AST | None]] = []
        if isinstance(n, ast.Assign):
            pairs = [(t, n.value) for t in n.targets]
        elif isinstance(n, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
            pairs = [(n.target, n.value)]
        elif isinstance(n, ast.For | ast.comprehension):
            pairs = [(n.target, n.iter)]
        elif isinstance(n, ast.withitem) and n.optional_vars is not None:
            pairs = [(n.optional_vars, n.context_expr)]
        for target, value in pairs:
            if self._is_tainted(value):
                self.tainted.update(self._names(target))

    def _call(self, n: ast.Call) -> CallSite | None:
        callee = _dotted(n.func)
        if callee is None:
            return None
        args: list[ast.expr] = [*n.args, *(k.value for k in n.keywords)]
        receiver = n.func.value if isinstance(n.func, ast.Attribute) else None
        tainted = any(self._is_tainted(a) for a in args) or (
            receiver is not None and self._is_tainted(receiver)
        )
        flags = {k.arg: _flag(k.value, self.tainted) for k in n.keywords if k.arg in FLAG_KWARGS}
        mode = None
        if callee.split(".")[-1] == "open":
            m = (
                n.args[1]
                if len(n.args) > 1
                else next((k.value for k in n.keywords if k.arg == "mode"), None)
            )
            if m is not None:
                mode = m.value if isinstance(m, ast.Constant) and isinstance(m.value, str) else "?"
        names = sorted(frozenset().union(*(self._names(a) for a in args)))
        return CallSite(callee, n.lineno, tainted, flags, mode, names, self.ctx.get(id(n), ""))


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def summarise(name: str, path: Path, source: bytes) -> Module:
    """One module's summary (raises SyntaxError on source Python cannot parse)."""
    tree = ast.parse(source)
    is_package = path.name == "__init__.py"
    mod = Module(name, str(path), {}, {}, [], {}, {})
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):  # imports anywhere (lazy imports inside functions too)
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                mod.imports.setdefault(local, alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom):
            src = node.module or ""
            if node.level:
                src = _resolve_relative(name, is_package, node.level, node.module)
            for alias in node.names:
                if alias.name != "*":
                    mod.imports.setdefault(alias.asname or alias.name, f"{src}.{alias.name}")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mod.functions[node.name] = _FunctionVisitor(name, node.name, node).summary
            mod.bound.append(node.name)
        elif isinstance(node, ast.ClassDef):
            methods = [
                m for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            for m in methods:
                q = f"{node.name}.{m.name}"
                mod.functions[q] = _FunctionVisitor(name, q, m).summary
            bases = [b for b in (_dotted(x) for x in node.bases) if b]
            mod.classes[node.name] = ClassInfo(
                name, node.name, node.lineno, bases, [m.name for m in methods]
            )
            mod.bound.append(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    mod.bound.append(t.id)
                    v = node.value
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        mod.constants[t.id] = v.value
                    elif isinstance(v, ast.Name | ast.Attribute) and (d := _dotted(v)):
                        aliases[t.id] = d  # ``Foo = bar.Baz``
        elif isinstance(node, ast.Import | ast.ImportFrom):
            mod.bound.extend(a.asname or a.name.split(".")[0] for a in node.names)
    for local, written in aliases.items():
        head, _, rest = written.partition(".")
        if head in mod.imports and head != local:
            base = mod.imports[head]
        elif head in mod.classes or head in mod.functions:
            base = f"{name}.{head}"
        else:
            continue
        mod.imports.setdefault(local, f"{base}.{rest}" if rest else base)
    return mod


class SourceIndex:
    """Summaries of every module of some top-level packages, with name resolution."""

    def __init__(self, modules: dict[str, Module], errors: list[str]) -> None:
        self.modules = modules
        self.errors = errors  # files that did not parse

    @classmethod
    def build(cls, packages: list[str], *, stdlib: bool = True) -> SourceIndex:
        roots = [Path(p) for p in sys.path if p and Path(p).is_dir()]
        modules: dict[str, Module] = {}
        errors: list[str] = []
        files: list[tuple[Path, Path]] = []
        for pkg in packages:  # a top-level package, a sub-package or a single module
            rel = pkg.replace(".", "/")
            for root in roots:
                if (root / rel / "__init__.py").is_file():
                    files += [(root, f) for f in sorted((root / rel).rglob("*.py"))]
                    break
                if (root / f"{rel}.py").is_file():
                    files.append((root, root / f"{rel}.py"))
                    break
        if stdlib:
            std = Path(sysconfig.get_paths()["stdlib"])
            skip = ("test", "idlelib", "tkinter", "turtledemo", "lib2to3/tests", "site-packages")
            files += [
                (std, f)
                for f in sorted(std.rglob("*.py"))
                if not any(str(f.relative_to(std)).startswith(s) for s in skip)
            ]
        for root, f in files:
            if "/tests/" in str(f) or "/test/" in str(f):
                continue  # packages' own test suites are not loaded by anyone
            name = _module_name(root, f)
            if name in modules:
                continue
            try:
                modules[name] = summarise(name, f, f.read_bytes())
            except (SyntaxError, ValueError, OSError) as exc:
                errors.append(f"{f}: {type(exc).__name__}")
        return cls(modules, errors)

    # -- JSON ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"modules": {k: asdict(v) for k, v in self.modules.items()}, "errors": self.errors}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceIndex:
        modules = {}
        for k, v in data["modules"].items():
            v["classes"] = {n: ClassInfo(**c) for n, c in v["classes"].items()}
            v["functions"] = {
                n: Function(**{**f, "calls": [CallSite(**c) for c in f["calls"]]})
                for n, f in v["functions"].items()
            }
            modules[k] = Module(**v)
        return cls(modules, list(data["errors"]))

    # -- resolution ------------------------------------------------------------------
    def split(self, dotted: str) -> tuple[str, list[str]] | None:
        """(longest indexed module prefix, remaining attribute path)."""
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.modules:
                return head, parts[i:]
        return None

    def canonical(self, dotted: str, depth: int = 0) -> str:
        """Where ``dotted`` is defined, following imports and aliases (re-exports)."""
        found = self.split(dotted)
        if found is None or depth > 12:
            return dotted
        module, rest = found
        if not rest:
            return module
        mod = self.modules[module]
        first = rest[0]
        if first in mod.classes or first in mod.functions:
            return ".".join([module, *rest])
        if first in mod.imports:
            target = mod.imports[first]
            if target != f"{module}.{first}":
                return self.canonical(".".join([target, *rest[1:]]), depth + 1)
        return ".".join([module, *rest])

    def in_scope(self, module: str, written: str) -> str | None:
        """Resolve a name as written inside ``module`` (no ``self``) to a dotted name."""
        mod = self.modules.get(module)
        if mod is None:
            return None
        head, _, rest = written.partition(".")
        if head in mod.classes or head in mod.functions:
            base = f"{module}.{head}"
        elif head in mod.imports:
            base = mod.imports[head]
        elif head in _BUILTINS:
            base = f"builtins.{head}"
        else:
            return None
        return self.canonical(f"{base}.{rest}" if rest else base)

    def klass(self, dotted: str) -> ClassInfo | None:
        found = self.split(dotted)
        if found is None or len(found[1]) != 1:
            return None
        return self.modules[found[0]].classes.get(found[1][0])

    def function(self, dotted: str) -> Function | None:
        found = self.split(dotted)
        if found is None or not found[1]:
            return None
        return self.modules[found[0]].functions.get(".".join(found[1]))

    def mro(self, cls: ClassInfo, depth: int = 0) -> list[ClassInfo]:
        """The class and its indexed bases, depth first (close enough to C3 for lookups)."""
        out = [cls]
        if depth > 20:
            return out
        for base in cls.bases:
            target = self.in_scope(cls.module, base)
            info = self.klass(target) if target else None
            if info is not None and info is not cls:
                out += [c for c in self.mro(info, depth + 1) if c not in out]
        return out

    def method(self, cls: ClassInfo, name: str) -> Function | None:
        for c in self.mro(cls):
            if name in c.methods:
                return self.modules[c.module].functions[f"{c.name}.{name}"]
        return None
