"""What a pickle may import: safe, for a reviewer, or blocked — and what is known-dangerous.

Denylists alone are how picklescan and modelscan keep being bypassed (a callable nobody
listed). Here the default is *block*: only callables that rebuild weights and plain data
are safe; framework classes that import code when loaded are *review*; everything else
is a finding, and the denylist only raises the severity to critical. The safe set is not
kept here: it is ``artifacts.pickle_callables``, the table the reader loads from too.
"""

from __future__ import annotations

import enum
import unicodedata

from weightwatch.artifacts.pickle_callables import PICKLE_CALLABLES
from weightwatch.scan import gadgets
from weightwatch.scan.findings import Severity


class Outcome(str, enum.Enum):
    SAFE = "safe"
    REVIEW = "review"
    BLOCK = "block"


# Module aliases that resolve to the same module when unpickled.
_ALIASES = {
    "__builtin__": "builtins",
    "posix": "os",
    "nt": "os",
    "_operator": "operator",
    "_pickle": "pickle",
    "_io": "io",
    "_codecs": "codecs",
    "_functools": "functools",
    "_collections": "collections",
    "copy_reg": "copyreg",
    "numpy._core": "numpy.core",
}

# Prefixes of framework classes that are legitimate in whole-object checkpoints but
# import (and so can run) library code: a human may approve them.
REVIEW_PREFIXES = (
    "torch.nn.modules.",
    "torch.nn.",
    "torch.optim.",
    "torch.ao.",
    "torch.utils.data.",
    "sklearn.",
    "transformers.",
    "tokenizers.",
    "xgboost.",
    "lightgbm.",
    "scipy.sparse.",
    "numpy.ma.",
    "numpy.random.",
    "numpy.core.records.",
    "pandas.core.",
    "accelerate.",
    "peft.",
)

# Known-dangerous: code execution, process control, file system, network, import
# machinery, nested deserialisation, interpreter internals. Entries are module or
# module.qualname prefixes.
DANGEROUS_PREFIXES = (
    "os.", "subprocess.", "pty.", "posixpath.", "shutil.", "socket.", "ssl.", "select.",
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__",
    "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.open",
    "builtins.breakpoint", "builtins.input", "builtins.globals", "builtins.locals",
    "builtins.vars", "builtins.memoryview", "builtins.type",
    "importlib.", "imp.", "runpy.", "pkgutil.", "zipimport.", "code.", "codeop.",
    "pickle.", "marshal.", "shelve.", "dill.", "cloudpickle.", "joblib.load",
    "joblib.numpy_pickle.load", "numpy.load", "numpy.lib.npyio.load", "numpy.fromfile",
    "torch.load", "torch.hub.",
    "torch.storage._load_from_bytes", "torch.serialization.load", "torch._C.",
    "torch.classes.", "torch.ops.", "torch.jit.", "torch.package.", "torch._dynamo.",
    "torch._inductor.", "torch.utils.cpp_extension.", "torch.distributed.", "torch.fx.",
    "torch.utils.collect_env.", "torch.utils.bottleneck.",
    "ctypes.", "_ctypes.", "cffi.", "sys.", "types.", "functools.partial",
    "functools.reduce", "operator.attrgetter", "operator.methodcaller", "operator.itemgetter",
    "asyncio.", "multiprocessing.", "concurrent.", "threading.", "_thread.", "signal.",
    "platform.", "timeit.", "cProfile.", "profile.", "pdb.", "bdb.", "trace.", "doctest.",
    "pydoc.", "idlelib.", "lib2to3.", "distutils.", "setuptools.", "pip.", "venv.",
    "ensurepip.", "webbrowser.", "http.", "urllib.", "requests.", "httpx.", "aiohttp.",
    "ftplib.", "smtplib.", "telnetlib.", "xmlrpc.", "tempfile.", "glob.", "fileinput.",
    "io.open", "io.FileIO", "codecs.open", "linecache.", "tarfile.", "zipfile.", "gzip.",
    "bz2.", "lzma.", "sqlite3.", "ast.", "inspect.", "gc.", "weakref.", "atexit.",
    "logging.config.", "site.", "sysconfig.", "__main__.", "copyreg.add_extension",
    "builtins.exit", "builtins.quit", "builtins.help",
    "yaml.", "jinja2.", "numexpr.", "pandas.eval", "pandas.read_pickle", "pandas.io.",
    "keras.", "tensorflow.", "tf.", "numpy.f2py.", "numpy.testing.", "numpy.distutils.",
)  # fmt: skip
# Callers that unpickle their argument: a bytes constant passed to them is analysed too.
NESTED_LOADERS = frozenset(
    {
        "pickle.loads", "pickle.load", "torch.storage._load_from_bytes", "dill.loads",
        "cloudpickle.loads", "numpy.loads", "joblib.load", "torch.load", "marshal.loads",
    }
)  # fmt: skip


def canonical(module: str, name: str) -> str:
    """``module.name`` with aliases resolved and Unicode/whitespace tricks normalised."""
    module = unicodedata.normalize("NFKC", module).strip().strip(".")
    name = unicodedata.normalize("NFKC", name).strip()
    head, _, rest = module.partition(".")
    head = _ALIASES.get(head, head)
    if module in _ALIASES:
        head, rest = _ALIASES[module], ""
    module = f"{head}.{rest}" if rest else head
    for alias, real in _ALIASES.items():
        if "." in alias and module.startswith(alias):
            module = real + module[len(alias) :]
    return f"{module}.{name}" if name else module


# Everything in the shared table, loadable by the reader or not, under its canonical name.
SAFE: frozenset[str] = frozenset(
    canonical(*entry.name.rsplit(".", 1)) for entry in PICKLE_CALLABLES
)

_DANGEROUS_TOPS = {"os", "subprocess", "pty", "socket", "ctypes", "importlib", "runpy", "sys"}


def _by_top(prefixes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Prefixes grouped by their first name: a path can only start with a dotted prefix
    whose first name is its own, so a lookup tries a handful instead of every prefix (the
    gadget sweep classifies hundreds of thousands of paths). Undotted prefixes, which
    could match any path, go under ``""`` and are always tried. (The test's sweep spent
    5.9 CPU s classifying when every prefix was tried, 2.8 s so.)"""
    groups: dict[str, list[str]] = {}
    for p in prefixes:
        head, dot, _ = p.partition(".")
        groups.setdefault(head if dot else "", []).append(p)
    return {k: tuple(v) for k, v in groups.items()}


_DANGEROUS_BY_TOP = _by_top(DANGEROUS_PREFIXES)
_ALLOWED_DUNDERS = {"__newobj__", "__newobj_ex__"}


# Cython's pickle helpers in compiled framework modules (sklearn's KD-tree, distance
# metrics): ``newObj(cls)`` is ``cls.__new__(cls)``, and the class is judged itself.
_CYTHON_REBUILDERS = frozenset({"newObj"})


_CRITICAL_SINKS = {"exec", "import", "process", "deserialise", "native", "denylisted"}


def _severity_of(sink: str) -> Severity:
    return Severity.CRITICAL if sink in _CRITICAL_SINKS else Severity.HIGH


# Opcodes that run a class's constructor on the pickle's arguments (INST and OBJ only
# with arguments; without, they call ``cls.__new__``).
CONSTRUCTOR_OPCODES = frozenset({"REDUCE", "INST", "OBJ"})


def constructor_is_gadget(full: str) -> bool:
    """Whether calling review class ``full`` with a pickle's arguments must be blocked.

    Real checkpoints rebuild framework objects with NEWOBJ (``cls.__new__``) and BUILD;
    the classes they do call are enums (a lookup by value), compiled extension types'
    reducers and Cython's pickle helpers. The gadget sweep found that nearly every other
    review class's constructor can be steered to a dangerous sink, so those are blocked.
    """
    module, _, name = full.rpartition(".")
    return not (
        full in gadgets.REDUCE_REBUILT
        or module in gadgets.COMPILED_MODULES
        or name in _CYTHON_REBUILDERS
        or name.startswith("__pyx_unpickle_")
    )


def _dangerous(path: str) -> bool:
    top = path.partition(".")[0]
    if top in _DANGEROUS_TOPS:
        return True
    return any(
        path.startswith(p)
        for p in (*_DANGEROUS_BY_TOP.get(top, ()), *_DANGEROUS_BY_TOP.get("", ()))
    )


def classify(full: str, *, swept: bool = True) -> tuple[Outcome, Severity | None]:
    """(outcome, severity of the finding or None for safe) for a canonical callable path.

    From protocol 4 on, the name part may be a dotted attribute path looked up from the
    module (``torch.nn.modules.module`` + ``os.system`` is ``os.system``), so every
    suffix of the path is checked against the denylist, and only a single CamelCase name
    (a class) under a review prefix is reviewable: framework functions are not.
    ``swept=False`` leaves out the gadget sweep's table (the sweep itself uses it).
    """
    if full not in SAFE and _dangerous(full):  # an exact table entry outranks a prefix
        return Outcome.BLOCK, Severity.CRITICAL
    if swept and full in gadgets.GADGETS:  # found by the gadget sweep (docs/scanner.md)
        return Outcome.BLOCK, _severity_of(gadgets.GADGETS[full].split(":")[1].strip())
    if full in SAFE:
        return Outcome.SAFE, None
    parts = full.split(".")
    reexport = gadgets.REEXPORTED.get(parts[-1]) if swept else None
    if reexport and any(full.startswith(p) for p in REVIEW_PREFIXES):
        return Outcome.BLOCK, _severity_of(reexport)  # a re-export no sweep has seen yet
    if any(p.startswith("__") and p.endswith("__") and p not in _ALLOWED_DUNDERS for p in parts):
        return Outcome.BLOCK, Severity.CRITICAL  # __builtins__, __globals__, __subclasses__…
    if any(_dangerous(".".join(parts[i:])) for i in range(1, len(parts))):
        return Outcome.BLOCK, Severity.CRITICAL
    if any(full.startswith(p) for p in REVIEW_PREFIXES) and (
        (parts[-1].lstrip("_")[:1].isupper() and not parts[-2].lstrip("_")[:1].isupper())
        or parts[-1] in _CYTHON_REBUILDERS
        or parts[-1].startswith("__pyx_unpickle_")
    ):
        return Outcome.REVIEW, Severity.MEDIUM
    return Outcome.BLOCK, Severity.HIGH
