"""The loading-path inventory: every call in the installed ML frameworks that deserialises
a pickle (or runs marshalled code), with what decides how safe it is and the file names
that lead to it.

Hide-and-Seek's first step (Liu et al., arXiv:2508.19774: "22 loading paths in five
frameworks") reproduced statically on the frameworks installed here: the source of each
package is parsed with ``ast`` (``scan_corpus_source``; nothing is imported) and every
call that resolves to ``pickle.load``/``loads``/``Unpickler``, ``torch.load`` (with its
``weights_only``: absent — True by default since torch 2.6 —, explicit, or passed in by the
caller), ``numpy.load`` (``allow_pickle``), ``joblib.load``, ``pandas.read_pickle``, dill,
cloudpickle, ``marshal``, ``shelve``, ``torch.jit.load`` or ``torch.package`` is a *site*.
A site whose safe load sits in a ``try`` and whose ``except`` handler loads again unsafely
is an exception-oriented fallback (EOP: a file that makes the safe load raise is then
loaded unsafely). Test and benchmark code; never run by weightwatch itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from weightwatch.testing.scan_corpus_source import CallSite, Function, SourceIndex

INVENTORY_PACKAGES = (
    "torch", "numpy", "joblib", "pandas", "transformers", "diffusers", "peft", "sklearn",
    "keras", "accelerate", "sentence_transformers", "xgboost", "lightgbm", "dill",
    "cloudpickle", "skops", "huggingface_hub", "tokenizers", "safetensors", "scipy",
)  # fmt: skip

# Resolved callee prefix -> the deserialiser's name in the report.
DESERIALISERS = (
    ("pickle.Unpickler", "pickle"), ("pickle._Unpickler", "pickle"), ("pickle.load", "pickle"),
    ("pickle._load", "pickle"), ("_pickle.load", "pickle"), ("_pickle.Unpickler", "pickle"),
    ("torch.serialization.load", "torch.load"),
    ("torch.load", "torch.load"), ("torch.jit._serialization.load", "torch.jit.load"),
    ("torch.jit.load", "torch.jit.load"),
    ("torch.package.package_importer.PackageImporter", "torch.package"),
    ("torch.package.PackageImporter", "torch.package"),
    ("numpy.lib._npyio_impl.load", "numpy.load"), ("numpy.load", "numpy.load"),
    ("joblib.numpy_pickle.load", "joblib.load"), ("joblib.load", "joblib.load"),
    ("pandas.io.pickle.read_pickle", "pandas.read_pickle"),
    ("pandas.read_pickle", "pandas.read_pickle"), ("dill._dill.load", "dill"),
    ("dill.load", "dill"), ("cloudpickle.load", "pickle"), ("marshal.load", "marshal"),
    ("shelve.open", "shelve"), ("torch.hub.load", "torch.hub.load"),
    ("torch._C._pickle_load_obj", "torch pickle"),
    ("torch.hub._load_local", "torch.hub.load"), ("yaml.unsafe_load", "yaml"),
)  # fmt: skip
_FILE = re.compile(
    r"^[\w.\-*{}%/]*\.(bin|pt|pth|ckpt|pkl|pickle|joblib|npy|npz|metadata|h5|hdf5|keras|"
    r"model|dat|pkz|pck|p|tar|zip|db|pb|nemo)$"
)


@dataclass(frozen=True)
class Site:
    package: str
    module: str
    function: str
    line: int
    loader: str  # "torch.load", "pickle", …
    safety: str  # "unsafe", "weights_only=False", "caller decides weights_only", …
    files: tuple[str, ...]  # file-name conventions the function uses
    eop: bool  # a safe load in a try, an unsafe load in its handler

    @property
    def in_tests(self) -> bool:
        """In a package's own test helpers (``torch.testing._internal``, ``*_test``)."""
        parts = self.module.split(".")
        return any(
            p in ("testing", "tests", "_testing") or p.endswith("_test") or p.startswith("test")
            for p in parts
        )

    @property
    def unsafe(self) -> bool:
        return not self.safety.startswith(("safe", "default (weights_only=True)"))

    def as_json(self) -> dict[str, object]:
        return {
            "package": self.package, "module": self.module, "function": self.function,
            "line": self.line, "loader": self.loader, "safety": self.safety,
            "files": list(self.files), "eop": self.eop, "unsafe": self.unsafe,
            "in_tests": self.in_tests,
        }  # fmt: skip


def loader_of(target: str) -> str | None:
    for prefix, name in DESERIALISERS:
        if target == prefix or target.startswith(prefix):
            return name
    return None


def _safety(loader: str, site: CallSite) -> str:
    if loader == "torch.load":
        flag = site.flags.get("weights_only")
        return {
            None: "default (weights_only=True)",
            "True": "safe (weights_only=True)",
            "False": "weights_only=False",
            "None": "weights_only=None (the default)",
            "param": "caller decides weights_only",
        }.get(flag, "weights_only computed")
    if loader == "numpy.load":
        flag = site.flags.get("allow_pickle")
        return {
            None: "safe (allow_pickle=False default)",
            "False": "safe (allow_pickle=False)",
            "True": "allow_pickle=True",
            "param": "caller decides allow_pickle",
        }.get(flag, "allow_pickle computed")
    return "unsafe"


def _files(index: SourceIndex, f: Function) -> tuple[str, ...]:
    found = {s for s in f.strings if _FILE.match(s)}
    for name in f.names:  # module-level constants the function uses (OPTIMIZER_NAME…)
        target = index.in_scope(f.module, name)
        split = index.split(target) if target else None
        if split and len(split[1]) == 1:
            value = index.modules[split[0]].constants.get(split[1][0])
            if value and _FILE.match(value):
                found.add(value)
    return tuple(sorted(found))


def _resolved(index: SourceIndex, f: Function) -> Iterator[tuple[CallSite, str]]:
    for site in f.calls:
        head = site.callee.split(".")[0]
        if head in ("self", "cls", "super()"):
            continue
        target = index.in_scope(f.module, site.callee)
        loader = loader_of(target) if target else None
        if loader is None and site.callee.split(".")[0] in ("torch", "pickle", "numpy", "np"):
            loader = loader_of(site.callee.replace("np.", "numpy.", 1))
        if loader is not None:
            yield site, loader


def inventory(index: SourceIndex) -> list[Site]:
    """Every deserialising call site in the indexed packages (stdlib excluded)."""
    out: list[Site] = []
    tops = set(INVENTORY_PACKAGES)
    for module, mod in sorted(index.modules.items()):
        package = module.split(".")[0]
        if package not in tops:
            continue
        for f in mod.functions.values():
            sites = list(_resolved(index, f))
            if not sites:
                continue
            safeties = [(s, loader, _safety(loader, s)) for s, loader in sites]
            fallback = any(s.ctx == "try" and not _unsafe(sf) for s, _, sf in safeties) and any(
                s.ctx == "except" and _unsafe(sf) for s, _, sf in safeties
            )
            files = _files(index, f)
            for s, loader, safety in safeties:
                out.append(
                    Site(package, module, f.qualname, s.line, loader, safety, files,
                         fallback and s.ctx == "except")
                )  # fmt: skip
    return out


def _unsafe(safety: str) -> bool:
    return not safety.startswith(("safe", "default (weights_only=True)"))
