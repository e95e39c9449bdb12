"""Which Python files in a model folder a loader would run.

A ``.py`` file in a model folder is not code execution by itself: something must import
it. The loaders that do, and how they find the file:

- transformers ``trust_remote_code``: ``auto_map`` in ``config.json``,
  ``tokenizer_config.json``, ``processor_config.json``… (``"module.Class"``; a
  ``"repo--module.Class"`` value fetches code from another repository), and a custom
  pipeline's ``custom_pipelines[task].impl``;
- diffusers: ``model_index.json`` components ``[library, class]`` whose library is not a
  package but a file of the repository;
- sentence-transformers: ``modules.json`` entries whose ``type`` is not its own;
- ``torch.hub.load``: ``hubconf.py`` at the folder root;
- and, transitively, the modules those import from the same folder (transformers copies
  relative imports along; a plain ``import sibling`` resolves there too).

Everything else (a package's own ``__init__.py`` that ships next to a GGUF, a training
script) is reported as informational. Parsing only: nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from weightwatch.artifacts.hfrepo import load_json
from weightwatch.errors import ArtifactError

MAX_SOURCE = 16 * 1024 * 1024  # bytes of a Python file parsed
MAX_FILES = 10_000
# Libraries diffusers/sentence-transformers name in their configs: not repository files.
_LIBRARIES = frozenset(
    {"diffusers", "transformers", "torch", "sentence_transformers", "peft", "timm", "open_clip"}
)


def loaded_python(
    root: Path, *, recursive: bool = True, seen: Callable[[Path, object], None] | None = None
) -> frozenset[Path]:
    """Resolved paths of the ``.py`` files under ``root`` that a loader would import
    (``recursive`` False: only the configs directly in ``root``, for a lone file).
    ``seen(path, doc)`` is called with every JSON document read on the way, so a caller
    that also needs them does not parse them again."""
    root = root.resolve()
    start: set[Path] = set()
    for path in _walk(root, "*.json", recursive=recursive):
        doc = _load(path)
        if doc is not None and seen is not None:
            seen(path, doc)
        for module in _referenced_modules(path, doc):
            target = _module_file(path.parent, module, root)
            if target is not None:
                start.add(target)
    hub = root / "hubconf.py"
    if hub.is_file() and not hub.is_symlink():
        start.add(hub)
    return frozenset(_closure(start, root))


def _walk(root: Path, pattern: str, *, recursive: bool) -> Iterator[Path]:
    found = root.rglob(pattern) if recursive else root.glob(pattern)
    for n, path in enumerate(sorted(found)):
        if n >= MAX_FILES:
            return
        if path.is_file() and not path.is_symlink():
            yield path


def _load(path: Path) -> object:
    """The JSON document, or None where it cannot be read (the scanner reports that file)."""
    try:
        return load_json(path, path.name)
    except (ArtifactError, OSError):
        return None


def _auto_map_refs(doc: object) -> Iterator[str]:
    if not isinstance(doc, dict):
        return
    auto_map = doc.get("auto_map")
    if isinstance(auto_map, dict):
        for value in auto_map.values():
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, str):
                    yield ref


def _referenced_modules(path: Path, doc: object) -> Iterator[str]:
    if isinstance(doc, dict):
        for ref in _auto_map_refs(doc):
            yield ref.split("--", 1)[-1].rpartition(".")[0]
        pipelines = doc.get("custom_pipelines")
        for spec in pipelines.values() if isinstance(pipelines, dict) else []:
            impl = spec.get("impl") if isinstance(spec, dict) else None
            if isinstance(impl, str):
                yield impl.rpartition(".")[0]
        if path.name == "model_index.json":
            for value in doc.values():
                if (
                    isinstance(value, list)
                    and value
                    and isinstance(value[0], str)
                    and value[0].split(".")[0] not in _LIBRARIES
                ):
                    yield value[0]
    if path.name == "modules.json" and isinstance(doc, list):
        for entry in doc:
            kind = entry.get("type") if isinstance(entry, dict) else None
            if isinstance(kind, str) and kind.split(".")[0] not in _LIBRARIES:
                yield kind.rpartition(".")[0]


def _module_file(base: Path, module: str, root: Path) -> Path | None:
    if not module or not all(part.isidentifier() for part in module.split(".")):
        return None
    rel = Path(*module.split("."))
    for candidate in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
        try:
            resolved = candidate.resolve()
        except OSError:
            continue
        if candidate.is_file() and resolved.is_relative_to(root):
            return resolved
    return None


def _closure(start: Iterable[Path], root: Path) -> set[Path]:
    done: set[Path] = set()
    todo = list(start)
    while todo and len(done) < MAX_FILES:
        path = todo.pop()
        if path in done:
            continue
        done.add(path)
        todo.extend(p for p in _local_imports(path, root) if p not in done)
    return done


def _local_imports(path: Path, root: Path) -> Iterator[Path]:
    try:
        tree = ast.parse(path.read_bytes()[:MAX_SOURCE])
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base] if base else []
            names += [f"{base}.{a.name}" if base else a.name for a in node.names]
        for name in names:
            target = _module_file(path.parent, name, root)
            if target is not None:
                yield target
