"""The stand-ins that replace the callables a ``torch.save`` pickle may name.

The restricted interpreter (``unpickler.run``) resolves a global only through ``ALLOWED``;
each entry is one of *our* functions that records a storage or tensor reference instead
of building a torch object, so reading a checkpoint never imports or runs torch code.
Which globals are allowed is ``pickle_callables``' table (the scanner's too); this module
only says what each ``Resolution`` there becomes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from weightwatch.artifacts.model import DTYPES
from weightwatch.artifacts.pickle_callables import PICKLE_CALLABLES, PickleCallable, Resolution
from weightwatch.artifacts.unpickler import Global, PickleRefused, StateDict
from weightwatch.errors import ArtifactError

MAX_WALK_DEPTH = 64
MAX_NAME = 4096
MAX_TENSORS = 1_000_000
MAX_DIMS = 32

_TENSOR_TYPES = frozenset(c.name for c in PICKLE_CALLABLES if c.reader is Resolution.TENSOR_TYPE)
_REBUILDERS = frozenset(
    c.name
    for c in PICKLE_CALLABLES
    if c.reader in (Resolution.REBUILD_TENSOR, Resolution.REBUILD_TENSOR_V3)
)


@dataclass(frozen=True)
class StorageRef:
    """A storage named by a persistent id. Untyped storages have dtype U8 (numel = bytes)."""

    key: str
    dtype: str
    numel: int
    view_offset: int = 0  # legacy format: a storage may be a view into a root storage


@dataclass(frozen=True)
class TensorRef:
    storage: StorageRef
    dtype: str
    offset: int  # in elements of ``dtype``
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    accepts_state = True  # BUILD on a tensor (hooks, metadata) is ignored, not refused


@dataclass(frozen=True)
class _Marker:
    """A type or dtype the pickle may name and pass around, but never call."""

    value: str

    def __call__(self, *_: Any) -> Any:
        raise PickleRefused("a storage or dtype type was called")


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or len(value) > MAX_DIMS:
        raise PickleRefused(f"{what} is not a short tuple of integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise PickleRefused(f"{what} is not a tuple of integers")
    return tuple(value)


def _marker_value(obj: Any) -> str | None:
    target = obj.target if isinstance(obj, Global) else None
    return target.value if isinstance(target, _Marker) else None


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, dtype: str | None) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise PickleRefused("tensor rebuilt from something that is not a storage")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise PickleRefused("tensor storage offset is not an integer")
    shape, strides = _ints(size, "tensor size"), _ints(stride, "tensor stride")
    return TensorRef(storage, dtype or storage.dtype, offset, shape, strides)


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> TensorRef:
    return _tensor(storage, offset, size, stride, None)


def _rebuild_tensor_v3(
    storage: Any, offset: Any, size: Any, stride: Any, _grad: Any, _hooks: Any, dtype: Any, *_: Any
) -> TensorRef:
    """torch ≥ 2.1 for dtypes without a typed storage (uint16/32/64, float8): bytes + dtype."""
    name = _marker_value(dtype)
    if name not in DTYPES:
        raise PickleRefused("_rebuild_tensor_v3 without a known dtype")
    return _tensor(storage, offset, size, stride, name)


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    if not isinstance(data, TensorRef):
        raise PickleRefused("parameter rebuilt from something that is not a tensor")
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, _state: Any) -> Any:
    """Only a plain tensor or Parameter wrapped around one of the tensor rebuilders."""
    if (
        not isinstance(func, Global)
        or func.name not in _REBUILDERS
        or func.target is None
        or not isinstance(new_type, Global)
        or new_type.name not in _TENSOR_TYPES
        or not isinstance(args, tuple)
    ):
        raise PickleRefused("_rebuild_from_type_v2 outside a plain tensor rebuild")
    return func.target(*args)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise PickleRefused("_codecs.encode other than latin1 text")
    return text.encode("latin1")


def _size(dims: Any = ()) -> tuple[int, ...]:
    return _ints(dims, "torch.Size")


def _stand_in(entry: PickleCallable) -> Callable[..., Any] | None:
    """What the interpreter calls for ``entry``; None: a type it may pass but never call."""
    match entry.reader:
        case Resolution.REBUILD_TENSOR:
            return _rebuild_tensor_v2
        case Resolution.REBUILD_TENSOR_V3:
            return _rebuild_tensor_v3
        case Resolution.REBUILD_PARAMETER:
            return _rebuild_parameter
        case Resolution.REBUILD_FROM_TYPE:
            return _rebuild_from_type_v2
        case Resolution.ORDERED_DICT:
            return StateDict
        case Resolution.SIZE:
            return _size
        case Resolution.LATIN1:
            return _latin1
        case Resolution.STORAGE_TYPE | Resolution.DTYPE:
            if entry.dtype is None:  # a broken table: fail at import, not on a file
                raise TypeError(f"{entry.name} is a marker without a dtype")
            return _Marker(entry.dtype)
        case Resolution.TENSOR_TYPE | None:
            return None


ALLOWED: Mapping[str, Global] = MappingProxyType(
    {c.name: Global(c.name, _stand_in(c)) for c in PICKLE_CALLABLES if c.loadable}
)


@dataclass
class StorageTable:
    """``persistent_load`` for one pickle: storage ids become ``StorageRef``s, recorded."""

    storages: dict[str, StorageRef] = field(default_factory=dict)

    def __call__(self, pid: Any) -> StorageRef:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise PickleRefused("persistent id is not a torch storage reference")
        dtype = _marker_value(pid[1])
        if dtype is None:
            raise PickleRefused("persistent id names an unknown storage type")
        key, numel = pid[2], pid[4]
        if not isinstance(key, str) or not 0 < len(key) <= 256:
            raise PickleRefused("malformed storage key")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise PickleRefused("malformed storage size")
        known = self.storages.setdefault(key, StorageRef(key, dtype, numel))
        if known.dtype != dtype:
            raise PickleRefused(f"storage {key} is claimed as both {known.dtype} and {dtype}")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return known
        if not (isinstance(view, tuple) and len(view) == 3):  # legacy (view_key, offset, size)
            raise PickleRefused("malformed storage view metadata")
        offset, size = _ints(view[1:], "storage view")
        if offset < 0 or size < 0:
            raise PickleRefused("negative storage view")
        return StorageRef(key, dtype, size, offset)


def collect(obj: Any, rel: str) -> list[tuple[str, TensorRef]]:
    """Every tensor in a checkpoint object, named by its key path ("model.layer.weight").

    Names are built only for tensors, from a parent chain, so a long key above many
    entries costs its length once, not once per entry.
    """
    out: list[tuple[str, TensorRef]] = []
    chain: list[tuple[int, Any]] = []  # (parent index, key) of every container entered
    seen: set[int] = set()
    todo: list[tuple[int, Any, Any, int]] = [(-1, None, obj, 0)]
    while todo:
        parent, key, node, depth = todo.pop()
        if isinstance(node, TensorRef):
            if len(out) >= MAX_TENSORS:
                raise ArtifactError(rel, f"checkpoint holds more than {MAX_TENSORS} tensors")
            out.append((_name(chain, parent, key, rel), node))
            continue
        if not isinstance(node, dict | list | tuple) or id(node) in seen:
            continue
        if depth > MAX_WALK_DEPTH:
            raise ArtifactError(rel, f"checkpoint nests deeper than {MAX_WALK_DEPTH} levels")
        seen.add(id(node))
        chain.append((parent, key))
        me = len(chain) - 1
        items = node.items() if isinstance(node, dict) else enumerate(node)
        todo.extend((me, k, v, depth + 1) for k, v in items)
    out.sort(key=lambda kv: kv[0])
    return out


def _name(chain: list[tuple[int, Any]], parent: int, key: Any, rel: str) -> str:
    parts: list[str] = []
    length = 0
    while True:
        if key is not None:
            text = _key_text(key)
            length += len(text) + 1
            if length > MAX_NAME:
                raise ArtifactError(rel, f"tensor name longer than {MAX_NAME} characters")
            parts.append(text)
        if parent < 0:
            return ".".join(reversed(parts)) or "tensor"
        parent, key = chain[parent]


def _key_text(key: Any) -> str:
    """Keys are flat scalars (the interpreter allows nothing else); bound what we render."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key[: MAX_NAME + 1].decode("latin1")
    if isinstance(key, int) and not isinstance(key, bool) and abs(key) >= 10**64:
        return "<int>"
    if isinstance(key, tuple):
        return "(" + ",".join(_key_text(k)[: MAX_NAME + 1] for k in key) + ")"
    return str(key)
