"""The gadget sweep: which callables the scanner lets through (safe or review) can reach a
dangerous sink when a pickle calls them with arguments and state of its choosing.

Hide-and-Seek's method (Liu et al., arXiv:2508.19774) on the frameworks installed here,
statically: every name a pickle could import that ``scan.callables.classify`` calls *safe*
or *review* is enumerated from the installed source (``scan_corpus_source``; nothing is
imported), and what loading it runs — ``__new__``/``__init__`` for a REDUCE call,
``__setstate__`` for BUILD, ``__setitem__``/``append``/``extend`` for SETITEMS/APPENDS —
is followed through the call graph to code execution, import, process, deserialisation,
file-write, network and native-code sinks, along calls whose arguments derive from the
attacker's (a crude taint). A framework module that imports a dangerous callable under a
class-like name (``from subprocess import Popen``) is a gadget too: pickles name it
through the framework module. Test and benchmark code; never run by weightwatch itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from weightwatch.scan.callables import REVIEW_PREFIXES, SAFE, Outcome, classify
from weightwatch.scan.findings import Severity
from weightwatch.testing.scan_corpus_source import CallSite, ClassInfo, Function, SourceIndex

# Packages whose source the sweep reads: every REVIEW prefix's and SAFE entry's package.
SWEEP_PACKAGES = (
    "torch", "sklearn", "transformers", "tokenizers", "xgboost", "lightgbm", "scipy",
    "numpy", "pandas", "accelerate", "peft", "joblib", "huggingface_hub", "safetensors",
)  # fmt: skip

_SINKS: tuple[tuple[str, str], ...] = (
    *((p, "exec") for p in ("builtins.exec", "builtins.eval", "code.Interactive")),
    *((p, "import") for p in (
        "builtins.__import__", "importlib.import_module", "importlib.__import__", "runpy.",
        "importlib.util.spec_from_file_location", "importlib.machinery.SourceFileLoader",
        "importlib._bootstrap._gcd_import", "pkgutil.resolve_name", "torch.utils.cpp_extension.",
        "transformers.dynamic_module_utils.get_class_from_dynamic_module",
        "transformers.dynamic_module_utils.get_class_in_module",
    )),
    *((p, "process") for p in (
        "os.system", "os.popen", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
        "subprocess.", "pty.spawn", "_posixsubprocess.", "multiprocessing.Process",
        "multiprocessing.context.Process", "multiprocessing.Pool", "multiprocessing.pool.",
    )),
    *((p, "deserialise") for p in (
        "pickle.load", "pickle.Unpickler", "pickle._Unpickler", "pickle._load", "_pickle.load",
        "_pickle.Unpickler", "torch.load", "torch.serialization.load", "torch.jit.load",
        "torch.jit._serialization.load", "joblib.load", "joblib.numpy_pickle.load",
        "pandas.read_pickle", "pandas.io.pickle.read_pickle", "dill.load", "cloudpickle.load",
        "marshal.load", "shelve.open", "yaml.load", "yaml.unsafe_load", "torch.hub.load",
    )),
    *((p, "file-write") for p in (
        "os.remove", "os.unlink", "os.rename", "os.replace", "os.rmdir", "os.removedirs",
        "os.makedirs", "os.mkdir", "os.symlink", "os.link", "os.chmod", "os.truncate",
        "shutil.", "tarfile.TarFile.extract", "zipfile.ZipFile.extract",
    )),
    *((p, "network") for p in (
        "socket.", "urllib.request.urlopen", "urllib.request.urlretrieve",
        "urllib.request.OpenerDirector.open", "http.client.HTTPConnection.request",
        "requests.", "httpx.", "urllib3.", "multiprocessing.connection.Client",
        "multiprocessing.connection.Listener", "huggingface_hub.hf_hub_download",
        "huggingface_hub.snapshot_download", "huggingface_hub.file_download.hf_hub_download",
        "huggingface_hub._snapshot_download.snapshot_download",
    )),
    *((p, "native") for p in (
        "ctypes.CDLL", "ctypes.PyDLL", "ctypes.cdll", "ctypes.pydll", "ctypes.LibraryLoader",
        "ctypes.cast", "ctypes.memmove", "ctypes.string_at", "ctypes.pythonapi", "_ctypes.dlopen",
        "cffi.",
    )),
)  # fmt: skip
# Calls that look like sinks but are not steerable: namedtuple validates its field names
# as identifiers before its eval; ``inspect`` evaluates annotations only with
# ``eval_str=True``, which none of the swept callers pass an attacker value to.
_SANITISERS = ("collections.namedtuple", "inspect.", "typing._type_check", "typing.ForwardRef")
_NUMPY_LOADS = ("numpy.load", "numpy.lib._npyio_impl.load", "numpy.lib.npyio.load")
_OPENS = ("builtins.open", "io.open", "_io.open", "codecs.open")
# What loading runs on an object of the class, per pickle opcode.
TRIGGERS = {
    "call": ("__new__", "__init__", "__post_init__"),  # REDUCE / INST / OBJ: cls(*args)
    "new": ("__new__",),  # NEWOBJ(_EX): cls.__new__(cls, *args)
    "build": ("__setstate__",),  # BUILD
    "setitem": ("__setitem__",),  # SETITEM(S) on the object
    "append": ("append", "extend"),  # APPEND(S)
}
MAX_DEPTH = 7


@dataclass(frozen=True)
class Gadget:
    name: str  # as a pickle names it: module.Name
    trigger: str  # "call", "new", "build", "setitem", "append", "re-export"
    sink: str  # sink kind
    chain: tuple[str, ...]  # entry -> ... -> sink (function names, the sink last)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "trigger": self.trigger, "sink": self.sink,
                "chain": list(self.chain)}  # fmt: skip


def sink_kind(target: str, site: CallSite) -> str | None:
    """The sink a resolved call reaches, if any (only when an argument is attacker's)."""
    if not site.tainted:
        return None
    if target.startswith(_OPENS):
        return "file-write" if site.mode and any(c in site.mode for c in "wax+?") else None
    if target.startswith(_NUMPY_LOADS):
        return "deserialise" if site.flags.get("allow_pickle") in ("True", "param") else None
    for prefix, kind in _SINKS:
        if target.startswith(prefix):
            if prefix.startswith("os.") and target.startswith("os.path"):
                return None
            return kind
    return None


class Sweep:
    """Reachability from entry functions to sinks over a ``SourceIndex``, memoised."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self._memo: dict[str, tuple[str, tuple[str, ...]] | None] = {}

    def _key(self, f: Function) -> str:
        return f"{f.module}.{f.qualname}"

    def _owner(self, f: Function) -> ClassInfo | None:
        if "." not in f.qualname:
            return None
        return self.index.modules[f.module].classes.get(f.qualname.split(".")[0])

    def _callees(self, f: Function, site: CallSite) -> Iterator[tuple[str, Function | None]]:
        """(resolved name, indexed function to follow or None) for one call site."""
        head, _, rest = site.callee.partition(".")
        owner = self._owner(f)
        if head in ("self", "cls") and owner is not None and rest and "." not in rest:
            m = self.index.method(owner, rest)
            if m is not None:
                yield self._key(m), m
            return
        if head == "super()" and owner is not None and rest and "." not in rest:
            for base in self.index.mro(owner)[1:]:
                if rest in base.methods:
                    m = self.index.modules[base.module].functions[f"{base.name}.{rest}"]
                    yield self._key(m), m
                    return
            return
        target = self.index.in_scope(f.module, site.callee)
        if target is None:
            return
        cls = self.index.klass(target)
        if cls is not None:
            for name in ("__new__", "__init__"):
                m = self.index.method(cls, name)
                if m is not None:
                    yield target, m
            return
        yield target, self.index.function(target)

    def reach(self, f: Function, depth: int = 0) -> tuple[str, tuple[str, ...]] | None:
        """(sink kind, chain) if ``f`` reaches a sink along attacker-steered calls."""
        key = self._key(f)
        if key in self._memo:
            return self._memo[key]
        if depth > MAX_DEPTH:
            return None
        self._memo[key] = None  # cycles
        found: tuple[str, tuple[str, ...]] | None = None
        for site in f.calls:
            for target, callee in self._callees(f, site):
                if target.startswith(_SANITISERS):
                    continue
                kind = sink_kind(target, site)
                if kind is not None:
                    found = (kind, (key, f"{target}  [line {site.line}]"))
                    break
                if callee is not None and site.tainted and callee is not f:
                    deeper = self.reach(callee, depth + 1)
                    if deeper is not None:
                        found = (deeper[0], (key, *deeper[1]))
                        break
            if found:
                break
        self._memo[key] = found
        return found

    def judge_class(self, name: str, cls: ClassInfo) -> list[Gadget]:
        out = []
        for trigger, methods in TRIGGERS.items():
            for m in methods:
                f = self.index.method(cls, m)
                hit = self.reach(f) if f is not None else None
                if hit is not None:
                    out.append(Gadget(name, trigger, hit[0], hit[1]))
                    break
        return out

    def judge(self, name: str) -> list[Gadget]:
        """Gadgets behind one name a pickle may import (``module.Name``)."""
        target = self.index.canonical(name)
        if target != name and classify(target, swept=False)[1] is Severity.CRITICAL:
            # a framework module re-exports a known-dangerous callable under its own name
            probe = CallSite(target, 0, True, mode="?")
            return [Gadget(name, "re-export", sink_kind(target, probe) or "denylisted", (target,))]
        cls = self.index.klass(target)
        if cls is not None:
            return self.judge_class(name, cls)
        f = self.index.function(target)
        if f is not None and any(d.endswith("SpecialForm") for d in f.decorators):
            return []  # typing.Optional and kin: instances whose call raises TypeError
        if f is not None:
            hit = self.reach(f)
            return [Gadget(name, "call", hit[0], hit[1])] if hit else []
        return []


def candidates(index: SourceIndex) -> Iterator[str]:
    """Every ``module.Name`` the scanner would let through as review or safe."""
    seen: set[str] = set()
    for module, mod in index.modules.items():
        if not module.startswith(tuple(p.rstrip(".") for p in REVIEW_PREFIXES)):
            continue
        for bound in sorted(set(mod.bound) | set(mod.imports)):
            name = f"{module}.{bound}"
            if name not in seen and classify(name, swept=False)[0] is not Outcome.BLOCK:
                seen.add(name)
                yield name
    for name in sorted(SAFE):
        if name not in seen:
            seen.add(name)
            yield name


def sweep(index: SourceIndex) -> tuple[int, list[Gadget]]:
    """(number of names examined, every gadget found)."""
    s = Sweep(index)
    names = list(candidates(index))
    found = [g for name in names for g in s.judge(name)]
    return len(names), found


_ENUM_BASES = ("enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag")


def _under_review(module: str) -> bool:
    return module.startswith(tuple(p.rstrip(".") for p in REVIEW_PREFIXES))


def enum_classes(index: SourceIndex) -> tuple[list[str], list[Gadget]]:
    """Enum classes under the review prefixes (calling one looks a member up by value),
    and the gadgets among them: an enum whose ``_missing_`` reaches a sink."""
    s = Sweep(index)
    enums, bad = [], []
    for module, mod in index.modules.items():
        if not _under_review(module):
            continue
        for name, cls in mod.classes.items():
            full = f"{module}.{name}"
            mro = {f"{c.module}.{c.name}" for c in index.mro(cls)}
            if not mro & set(_ENUM_BASES) or classify(full, swept=False)[0] is not Outcome.REVIEW:
                continue
            missing = index.method(cls, "_missing_")
            hit = s.reach(missing) if missing is not None else None
            if hit is None:
                enums.append(full)
            else:
                bad.append(Gadget(full, "call", hit[0], hit[1]))
    return sorted(enums), bad


def reexported_names(found: list[Gadget], index: SourceIndex) -> dict[str, str]:
    """Class name -> sink for the re-export gadgets, judged by name in any review module.

    A framework release adds re-exports no sweep has seen yet (peft 0.22's
    ``peft.tuners.lora.layer`` binds ``DTensor``; the sweep of 0.21 found only
    ``lora.model.DTensor``), and a checkpoint's reader has whatever version it has.
    Modules re-export with ``from x import Name``, so the name travels with the class:
    the scanner blocks a review name ending in a re-exported class's name (or the alias it
    was bound to). Names a review module defines as its own class (``torch.nn.Module``,
    ``torch.nn.Parameter``) are left out, so the rule never overrides a framework's class.
    """
    own = {
        cls
        for module in index.modules.values()
        if _under_review(module.name)
        for cls in module.classes
        if classify(f"{module.name}.{cls}", swept=False)[0] is not Outcome.BLOCK
    }
    names: dict[str, str] = {}
    for g in sorted(found, key=lambda g: g.name):
        if g.trigger != "re-export":
            continue
        for name in {g.name.rpartition(".")[2], g.chain[-1].rpartition(".")[2]}:
            if name not in own and names.get(name) != "denylisted":
                names[name] = g.sink  # a denylisted target outranks a single sink
    return dict(sorted(names.items()))


def compiled_modules() -> list[str]:
    """Compiled extension modules under the review prefixes (no source to sweep)."""
    import importlib.machinery
    import sys
    from pathlib import Path

    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    out: set[str] = set()
    tops = {p.split(".")[0] for p in REVIEW_PREFIXES}
    for root in (Path(p) for p in sys.path if p and Path(p).is_dir()):
        for top in sorted(tops):
            if not (root / top / "__init__.py").is_file():
                continue
            for f in (root / top).rglob("*"):
                sfx = next((x for x in suffixes if f.name.endswith(x)), None)
                if sfx is None:
                    continue
                module = ".".join(f.relative_to(root).parts)[: -len(sfx)]
                if (
                    _under_review(module)
                    and classify(f"{module}.X", swept=False)[0] is Outcome.REVIEW
                ):
                    out.add(module)
    return sorted(out)


def render_table(
    found: list[Gadget],
    enums: list[str],
    compiled: list[str],
    versions: dict[str, str],
    reexported: dict[str, str],
) -> str:
    """``scan/gadgets.py``'s text: the blocked gadgets the constructor rule does not cover
    (BUILD, SETITEMS/APPENDS, re-exports) and the classes a checkpoint may construct."""
    table = {}
    for g in sorted(found, key=lambda g: (g.name, g.trigger)):
        if g.trigger != "call" and g.name not in table:
            table[g.name] = f"{g.trigger}: {g.sink}: {' -> '.join(g.chain[1:] or g.chain)}"
    q = json.dumps
    lines = [
        "# ruff: noqa: E501",
        '"""Generated by ``python benchmarks/scanner/loading_paths.py gadgets --write``: do not',
        "edit by hand (tests/scan/test_gadget_sweep.py checks it against the installed source).",
        "",
        "``GADGETS``: names a pickle may import through a review prefix (or the safe table)",
        "whose loading reaches a dangerous sink without a constructor call — BUILD's",
        "``__setstate__``, SETITEMS/APPENDS, or a framework module re-exporting a known-",
        "dangerous callable — as ``trigger: sink: chain``. ``REEXPORTED``: the re-exported",
        "classes' names (and aliases) with their sinks, blocked in any review module because",
        "the next release re-exports them elsewhere; a name a review module defines as its",
        "own class is left out. Constructor calls of review",
        "classes are blocked by rule (``callables.constructor_is_gadget``) except",
        "``REDUCE_REBUILT`` (enums whose ``_missing_`` is harmless) and classes of",
        "``COMPILED_MODULES`` (extension types: no Python source to sweep).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "SWEPT = {",
        *(f"    {q(k)}: {q(v)}," for k, v in sorted(versions.items())),
        "}",
        "",
        "GADGETS: dict[str, str] = {",
        *(f"    {q(k)}: {q(v)}," for k, v in table.items()),
        "}",
        "REEXPORTED: dict[str, str] = {",
        *(f"    {q(k)}: {q(v)}," for k, v in reexported.items()),
        "}",
        "REDUCE_REBUILT: frozenset[str] = frozenset(",
        "    {",
        *(f"        {q(e)}," for e in enums),
        "    }",
        ")",
        "COMPILED_MODULES: frozenset[str] = frozenset(",
        "    {",
        *(f"        {q(m)}," for m in compiled),
        "    }",
        ")",
        "",
    ]
    return "\n".join(lines)
