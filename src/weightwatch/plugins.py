"""Plugin registries: one typed, named registry per extension point.

Attacks, judges, watermark schemes and scanner rules are plugins. Each kind has one
``Registry`` that maps a stable name to its plugin, refuses a second plugin under a taken
name, and answers an unknown name with a ``UsageError`` that lists the known ones.

Adding a plugin is a new file, never an edit to a dispatcher: a package of plugins
discovers itself once, from its own ``__init__`` (``registry.discover(__name__)``), which
imports each of its modules and registers what the module exports under the registry's
agreed name (``ATTACKS = (Direct,)``). Discovery runs from the package, above its
plugins, so the module defining a plugin's base class never imports the plugins (no
cycle, hidden or not); lookups never import anything. Code outside the package adds its
own plugins with ``register`` (usable as a decorator) or ``discover(its_package)``.

Modelled on inspect_ai's ``_util/registry.py``, without its one process-wide dict: each
kind keeps its own typed registry, so a lookup cannot return a plugin of another kind.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from weightwatch.errors import UsageError

T = TypeVar("T")


class Registry(Mapping[str, T]):
    """Plugins of one kind by name: a read-only mapping plus ``register`` and ``lookup``.

    ``kind`` names the plugins in messages ("attack", "watermark scheme"); ``key`` reads
    a plugin's own name (``cls.name``, ``rule.id``); ``export`` is the module attribute
    ``discover`` reads. Indexing raises ``KeyError`` like any mapping; ``lookup`` is what
    user-facing code calls, since its error tells the user what they may choose from.
    """

    def __init__(
        self,
        kind: str,
        *,
        key: Callable[[T], str],
        export: str | None = None,
        plural: str | None = None,
    ) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.export = export
        self._key = key
        self._plugins: dict[str, T] = {}
        self._lock = threading.RLock()

    # -- adding plugins ----------------------------------------------------------------

    def register(self, plugin: T, *, name: str | None = None) -> T:
        """Add ``plugin`` under ``name`` (default: its own name); returns it, so this
        doubles as a decorator. The same object twice is a no-op; another object under
        a taken name is refused, since names are stable ids that reports carry."""
        name = self._key(plugin) if name is None else name
        if not name:
            raise UsageError(f"a {self.kind} needs a non-empty name: {_describe(plugin)}")
        with self._lock:
            taken = self._plugins.get(name)
            if taken is not None and taken is not plugin:
                raise UsageError(
                    f"two {self.plural} are named {name!r}: "
                    f"{_describe(taken)} and {_describe(plugin)}",
                    hint=f"{self.kind} names are stable ids: give the new one another name",
                )
            self._plugins[name] = plugin
        return plugin

    def discover(self, package: str) -> None:
        """Import every module of ``package`` and register what each exports under
        ``export``. Call it from the package's own ``__init__`` (see the module doc)."""
        if self.export is None:
            raise UsageError(f"the {self.kind} registry discovers nothing (no export name)")
        root = importlib.import_module(package)
        paths = getattr(root, "__path__", None)
        if paths is None:
            raise UsageError(f"{package} is a module, not a package of {self.plural}")
        with self._lock:
            for info in sorted(pkgutil.iter_modules(paths), key=lambda i: i.name):
                module = importlib.import_module(f"{package}.{info.name}")
                for plugin in getattr(module, self.export, ()):
                    self.register(plugin)

    # -- finding plugins ---------------------------------------------------------------

    def lookup(self, name: str) -> T:
        """The plugin called ``name``; a ``UsageError`` naming the known ones if none is."""
        plugin = self._plugins.get(name)
        if plugin is None:
            raise UsageError(
                f"unknown {self.kind} {name!r}",
                hint=f"known {self.plural}: {', '.join(self.names()) or 'none'}",
            )
        return plugin

    def names(self) -> list[str]:
        """Every registered name, sorted (for help texts and error hints)."""
        return sorted(self._plugins)

    def __getitem__(self, name: str) -> T:
        return self._plugins[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._plugins))

    def __len__(self) -> int:
        return len(self._plugins)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _describe(plugin: object) -> str:
    """``module.Name`` for classes and functions, the repr of anything else."""
    qualname = getattr(plugin, "__qualname__", None)
    if isinstance(qualname, str):
        return f"{getattr(plugin, '__module__', '?')}.{qualname}"
    return repr(plugin)


__all__ = ["Registry"]
