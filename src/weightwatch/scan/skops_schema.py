"""skops files: what ``skops.io.load`` would import, read from ``schema.json`` alone.

A skops file is a zip: ``schema.json`` holds a tree of nodes, each naming a type by
``__module__`` and ``__class__`` and the skops node class that rebuilds it
(``__loader__``: ``ObjectNode``, ``FunctionNode``, ``MethodNode``…); arrays sit beside
it as ``.npy`` members (scanned as NumPy files by ``scan.containers``). skops refuses
types outside its trusted lists unless the caller passes ``trusted=...`` — and the
usual advice, ``trusted=get_untrusted_types(file=...)``, trusts whatever the file names.
So every type the tree names is judged here by the same callable table as pickles
(``scan.callables.classify``), with skops' own default trust added where it is sound:
NumPy ufuncs as function references. ``skops.io.get_untrusted_types`` is the reference
this is checked against in the tests; nothing here imports skops or the named modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from weightwatch.scan import rules
from weightwatch.scan.callables import Outcome, canonical, classify
from weightwatch.scan.findings import Finding, Location, Severity

#: skops 0.9-0.16 node loaders; any other name is one skops itself cannot load.
LOADERS = frozenset(
    {
        "DictNode", "DefaultDictNode", "ListNode", "SetNode", "TupleNode", "FunctionNode",
        "PartialNode", "TypeNode", "SliceNode", "ObjectNode", "MethodNode", "JsonNode",
        "BytesNode", "BytearrayNode", "OperatorFuncNode", "NdArrayNode", "MaskedArrayNode",
        "RandomStateNode", "RandomGeneratorNode", "DTypeNode", "SparseMatrixNode",
        "ReduceNode", "TreeNode", "LossNode", "SGDNode", "CachedNode", "QuantileForestNode",
        "ConstructorFromReduceNode", "BunchNode", "_DictWithDeprecatedKeysNode",
    }
)  # fmt: skip
_PLAIN = frozenset(
    f"builtins.{n}"
    for n in (
        "int", "float", "str", "bool", "list", "set", "tuple", "dict", "bytes", "bytearray",
        "slice", "NoneType", "complex", "frozenset", "map", "type",
    )
)  # fmt: skip
MAX_NODES = 1_000_000


def analyze_schema(schema: Any, location: Location) -> Iterator[Finding]:
    """Findings for one parsed ``schema.json``: one per distinct type, worst first."""
    if not isinstance(schema, dict) or "__loader__" not in schema:
        yield rules.FILE_UNREADABLE.finding(location, "skops schema.json has no root node")
        return
    judged: dict[str, tuple[Severity, str]] = {}
    stack: list[Any] = [schema]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            yield rules.PICKLE_LIMIT.finding(location, f"skops schema has over {MAX_NODES} nodes")
            return
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
        if "__loader__" not in node:
            continue
        for name, verdict in _judge_node(node):
            if verdict is not None:
                judged.setdefault(name, verdict)
    for name, (severity, why) in sorted(judged.items(), key=lambda kv: -kv[1][0].rank):
        yield rules.SKOPS_TYPE.finding(
            location, f"loading names {name}: {why}", severity=severity, callable=name
        )


def _judge_node(node: dict[str, Any]) -> Iterator[tuple[str, tuple[Severity, str] | None]]:
    loader = node.get("__loader__")
    module, cls = node.get("__module__"), node.get("__class__")
    if not isinstance(loader, str) or loader not in LOADERS:
        yield f"loader {loader!r}", (Severity.MEDIUM, "not a skops node type (skops refuses it)")
        return
    if not isinstance(module, str) or not isinstance(cls, str):
        if loader != "CachedNode":  # a back-reference carries only an id
            yield f"{loader} without a type", (Severity.MEDIUM, "node names no type")
        return
    name = canonical(module, cls)
    if (loader == "FunctionNode" and _numpy_ufunc(module, cls)) or _numpy_scalar(module, cls):
        yield name, None  # skops' default trust: NumPy ufuncs and scalar/dtype types
        return
    if loader == "MethodNode":
        content = node.get("content")
        method = content.get("func") if isinstance(content, dict) else None
        name = f"{name}.{method}" if isinstance(method, str) else f"{name}.?"
    yield name, _verdict(name)


def _verdict(name: str) -> tuple[Severity, str] | None:
    if name in _PLAIN:
        return None
    outcome, severity = classify(name)
    if outcome is Outcome.SAFE or severity is None:
        return None
    if outcome is Outcome.REVIEW:
        return severity, "a framework type whose code runs on load (review)"
    if severity is Severity.CRITICAL:
        return severity, "known-dangerous"
    return severity, "outside the allowlist"


def _numpy_ufunc(module: str, cls: str) -> bool:
    # vars() never triggers numpy's lazy submodule imports, unlike getattr
    return module == "numpy" and isinstance(vars(np).get(cls), np.ufunc)


def _numpy_scalar(module: str, cls: str) -> bool:
    kind = vars(np).get(cls) if module == "numpy" else None
    return isinstance(kind, type) and issubclass(kind, np.generic)
