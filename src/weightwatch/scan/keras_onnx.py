"""Keras configs (Lambda layers, custom objects) and ONNX external-data paths, statically.

A ``.keras`` file is a zip whose ``config.json`` describes every layer; legacy ``.h5``
files keep the same JSON in an HDF5 attribute, found here by a bounded byte search
(no HDF5 library, nothing deserialised). ONNX external data is located by the
``location`` entries of its protobuf, decoded by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from weightwatch.scan import rules
from weightwatch.scan.findings import Finding, Location

KERAS_MODULES = ("keras", "tensorflow.keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")
MAX_DEPTH = 200


def is_keras_config(doc: Any) -> bool:
    return isinstance(doc, dict) and "class_name" in doc and isinstance(doc.get("config"), dict)


def analyze_keras_config(doc: Any, location: Location) -> Iterator[Finding]:
    stack: list[tuple[Any, int]] = [(doc, 0)]
    seen: set[str] = set()
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if isinstance(node, dict):
            cls = node.get("class_name")
            if cls == "Lambda" and "lambda" not in seen:
                seen.add("lambda")
                name = (
                    (node.get("config") or {}).get("name", "?")
                    if isinstance(node.get("config"), dict)
                    else "?"
                )
                yield rules.KERAS_LAMBDA.finding(
                    location, f"Lambda layer {name!r}", layer=str(name)
                )
            module = node.get("module")
            if (
                isinstance(cls, str)
                and isinstance(module, str)
                and module
                and not module.startswith(KERAS_MODULES)
            ):
                key = f"{module}.{cls}"
                if key not in seen:
                    seen.add(key)
                    yield rules.KERAS_CUSTOM.finding(location, f"custom object {key}", callable=key)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


MAX_TORCH_MODULE = 256 * 1024 * 1024  # base64 text of one wrapped module


def torch_modules(doc: Any) -> Iterator[tuple[str, bytes]]:
    """(layer name, bytes) of each ``TorchModuleWrapper`` layer's module: Keras 3 stores
    the wrapped ``torch.nn.Module`` as base64 ``torch.save`` output and hands it to
    ``torch.load(weights_only=False)`` when loaded with ``safe_mode=False`` (found by the
    loading-path inventory, docs/scanner.md). Undecodable text is skipped."""
    import base64
    import binascii

    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if isinstance(node, dict):
            config = node.get("config")
            module = config.get("module") if isinstance(config, dict) else None
            if (
                node.get("class_name") == "TorchModuleWrapper"
                and isinstance(module, str)
                and len(module) <= MAX_TORCH_MODULE
            ):
                try:
                    data = base64.b64decode(module.encode("ascii"), validate=True)
                except (binascii.Error, UnicodeEncodeError):
                    data = b""
                if data:
                    yield str(config.get("name", "?")), data  # type: ignore[union-attr]
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def h5_has_lambda(data: bytes) -> bool:
    return b'"class_name": "Lambda"' in data or b'"class_name":"Lambda"' in data


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data) and shift < 64:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    return -1, i


def onnx_external_paths(data: bytes) -> list[str]:
    """Values of ``location`` key/value entries (StringStringEntryProto: key=1, value=2)."""
    out = []
    needle = b"\x0a\x08location\x12"
    start = 0
    while (i := data.find(needle, start)) >= 0:
        n, j = _varint(data, i + len(needle))
        if 0 < n < 4096:
            out.append(data[j : j + n].decode("utf-8", "replace"))
        start = i + 1
    return out


def analyze_onnx(data: bytes, location: Location) -> Iterator[Finding]:
    for path in onnx_external_paths(data):
        parts = path.replace("\\", "/").split("/")
        if path.startswith(("/", "\\")) or ".." in parts or (len(path) > 1 and path[1] == ":"):
            yield rules.ONNX_EXTERNAL.finding(location, f"external data at {path!r}", path=path)
