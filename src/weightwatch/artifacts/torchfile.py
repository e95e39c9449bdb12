"""PyTorch checkpoints (zip and legacy formats) read without torch and without executing.

The pickle inside is interpreted by ``unpickler.run`` with an allowlist of the tensor and
storage rebuild callables ``torch.save`` emits, each replaced by a stand-in that records
(storage, offset, shape, strides). Tensor data is then a strided NumPy view over the
storage's bytes, memory-mapped straight out of the file (zip storages are STORED).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.mapping import map_range
from weightwatch.artifacts.model import DTYPES, Tensor, TensorInfo
from weightwatch.artifacts.unpickler import BoundedReader, Global, PickleRefused, StateDict, run
from weightwatch.errors import ArtifactError

MAX_PICKLE = 256 * 1024 * 1024
MAX_WALK_DEPTH = 64

_STORAGE_DTYPES = {
    "Double": "F64", "Float": "F32", "Half": "F16", "BFloat16": "BF16",
    "Long": "I64", "Int": "I32", "Short": "I16", "Char": "I8", "Byte": "U8",
    "Bool": "BOOL", "ComplexFloat": "C64", "ComplexDouble": "C128",
}  # fmt: skip
_TORCH_DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
    "bool": "BOOL", "complex64": "C64", "complex128": "C128",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}  # fmt: skip


@dataclass(frozen=True)
class StorageType:
    dtype: str


@dataclass(frozen=True)
class StorageRef:
    key: str
    dtype: str
    numel: int
    view_offset: int = 0  # legacy format: a storage may be a view into a root storage


@dataclass(frozen=True)
class TensorRef:
    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    accepts_state = True


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise PickleRefused(f"{what} is not a tuple of integers")
    return tuple(value)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise PickleRefused("tensor rebuilt from something that is not a storage")
    if not isinstance(offset, int):
        raise PickleRefused("tensor storage offset is not an integer")
    return TensorRef(storage, offset, _ints(size, "tensor size"), _ints(stride, "tensor stride"))


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    if not isinstance(data, TensorRef):
        raise PickleRefused("parameter rebuilt from something that is not a tensor")
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    if not isinstance(func, Global) or func.target is None or not isinstance(args, tuple):
        raise PickleRefused("_rebuild_from_type_v2 with an unexpected function")
    return func.target(*args)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise PickleRefused("_codecs.encode other than latin1 text")
    return text.encode("latin1")


def _allowed() -> dict[str, Global]:
    table: dict[str, Global] = {}

    def add(name: str, target: Any) -> None:
        table[name] = Global(name, target)

    for fn in ("_rebuild_tensor_v2", "_rebuild_tensor"):
        add(f"torch._utils.{fn}", _rebuild_tensor)
    for fn in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
        add(f"torch._utils.{fn}", _rebuild_parameter)
    add("torch._tensor._rebuild_from_type_v2", _rebuild_from_type_v2)
    add("collections.OrderedDict", StateDict)
    add("torch.Size", lambda dims=(): _ints(dims, "torch.Size"))
    add("_codecs.encode", _latin1)
    for cls, dtype in _STORAGE_DTYPES.items():
        table[f"torch.{cls}Storage"] = Global(f"torch.{cls}Storage", _marker(StorageType(dtype)))
    for name, dtype in _TORCH_DTYPES.items():
        add(f"torch.{name}", _marker(dtype))
    for marker in ("torch.nn.parameter.Parameter", "torch.Tensor", "torch._utils._type"):
        table[marker] = Global(marker, None)
    return table


def _marker(value: Any) -> Any:
    def refuse(*_: Any) -> Any:
        raise PickleRefused("a storage or dtype type was called")

    refuse.value = value  # type: ignore[attr-defined]
    return refuse


ALLOWED = _allowed()


def _storage_type(obj: Any) -> str:
    value = getattr(getattr(obj, "target", None), "value", None)
    if not isinstance(value, StorageType):
        raise PickleRefused("persistent id names an unknown storage type")
    return value.dtype


def _persistent_load(pid: Any) -> StorageRef:
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
        raise PickleRefused(f"unexpected persistent id {str(pid)[:80]}")
    dtype = _storage_type(pid[1])
    key, numel = pid[2], pid[4]
    if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
        raise PickleRefused("malformed storage persistent id")
    view = pid[5] if len(pid) > 5 else None
    if view is not None:  # legacy view: (view_key, offset, size) into the root storage
        if not (isinstance(view, tuple) and len(view) == 3):
            raise PickleRefused("malformed storage view metadata")
        return StorageRef(key, dtype, _ints(view[2:], "view")[0], _ints(view[1:2], "view")[0])
    return StorageRef(key, dtype, numel)


def _collect(obj: Any, rel: str) -> list[tuple[str, TensorRef]]:
    """Every tensor in a checkpoint object, named by its key path ("model.layer.weight")."""
    out: list[tuple[str, TensorRef]] = []
    seen: set[int] = set()
    todo: list[tuple[str, Any, int]] = [("", obj, 0)]
    while todo:
        prefix, node, depth = todo.pop()
        if isinstance(node, TensorRef):
            out.append((prefix or "tensor", node))
            continue
        if not isinstance(node, dict | list | tuple) or id(node) in seen:
            continue
        if depth > MAX_WALK_DEPTH:
            raise ArtifactError(rel, f"checkpoint nests deeper than {MAX_WALK_DEPTH} levels")
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            todo.append((f"{prefix}.{k}" if prefix else str(k), v, depth + 1))
    out.sort(key=lambda kv: kv[0])
    return out


@dataclass(frozen=True)
class _Storage:
    path: Path
    offset: int  # absolute byte offset of the storage's data in the file
    nbytes: int


@dataclass(frozen=True)
class TorchContents:
    tensors: tuple[tuple[TensorInfo, TensorRef, _Storage], ...]


def read_torch_zip(path: Path, *, rel: str) -> TorchContents:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            pkl = [n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pkl) != 1:
                raise ArtifactError(rel, f"torch zip has {len(pkl)} data.pkl records")
            prefix = pkl[0][: -len("data.pkl")]
            if infos[pkl[0]].file_size > MAX_PICKLE:
                raise ArtifactError(rel, "data.pkl larger than 256 MiB", member=pkl[0])
            bo = infos.get(prefix + "byteorder")
            if bo is not None and zf.read(bo).strip() not in (b"little", b""):
                raise ArtifactError(rel, "big-endian torch checkpoints are not supported")
            data = zf.read(pkl[0])
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise ArtifactError(rel, f"unreadable torch zip: {exc}") from exc
    obj = _unpickle(io.BytesIO(data), rel, pkl[0])
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        for name, ref in _collect(obj, rel):
            key = ref.storage.key
            if key not in storages:
                member = infos.get(f"{prefix}data/{key}")
                if member is None:
                    raise ArtifactError(rel, f"tensor {name!r}: storage {key} missing")
                storages[key] = _member_span(f, member, rel)
    return _contents(path, rel, obj, storages)


def _member_span(f: Any, info: zipfile.ZipInfo, rel: str) -> _Storage:
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise ArtifactError(
            rel, "compressed storage records are not supported", member=info.filename
        )
    f.seek(info.header_offset)
    local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ArtifactError(rel, "bad local header", member=info.filename)
    n, m = struct.unpack("<HH", local[26:30])
    return _Storage(Path(f.name), info.header_offset + 30 + n + m, info.file_size)


def read_torch_legacy(path: Path, *, rel: str) -> TorchContents:
    size = path.stat().st_size
    with open(path, "rb") as f:
        pos = 0
        for what in ("magic number", "protocol version", "system info"):
            _value, pos = _unpickle_at(f, pos, size, rel, what)
        obj, pos = _unpickle_at(f, pos, size, rel, "checkpoint", persistent=True)
        keys, pos = _unpickle_at(f, pos, size, rel, "storage keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ArtifactError(rel, "legacy checkpoint: storage key list is malformed")
        roots: dict[str, tuple[str, int]] = {}
        for _name, ref in _collect(obj, rel):
            roots.setdefault(ref.storage.key, (ref.storage.dtype, ref.storage.numel))
        storages: dict[str, _Storage] = {}
        for key in keys:
            f.seek(pos)
            head = f.read(8)
            if len(head) != 8:
                raise ArtifactError(rel, f"legacy checkpoint truncated before storage {key}")
            (numel,) = struct.unpack("<q", head)
            if key not in roots:
                raise ArtifactError(rel, f"legacy checkpoint: storage {key} has no tensor")
            dtype = roots[key][0]
            nbytes = numel * DTYPES[dtype][1]
            if numel < 0 or pos + 8 + nbytes > size:
                raise ArtifactError(rel, f"legacy checkpoint: storage {key} runs past the end")
            storages[key] = _Storage(path, pos + 8, nbytes)
            pos += 8 + nbytes
    return _contents(path, rel, obj, storages)


def _unpickle(stream: Any, rel: str, member: str | None, persistent: bool = True) -> Any:
    try:
        obj, _end = run(
            stream, allowed=ALLOWED, persistent_load=_persistent_load if persistent else None
        )
    except PickleRefused as exc:
        raise ArtifactError(rel, str(exc), member=member) from exc
    except (ValueError, EOFError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ArtifactError(rel, f"malformed pickle: {exc}", member=member) from exc
    return obj


def _unpickle_at(
    f: Any, pos: int, size: int, rel: str, what: str, *, persistent: bool = False
) -> tuple[Any, int]:
    reader = BoundedReader(f, pos, size)
    try:
        obj, end = run(
            reader, allowed=ALLOWED, persistent_load=_persistent_load if persistent else None
        )
    except PickleRefused as exc:
        raise ArtifactError(rel, f"{exc} (in the {what} pickle)") from exc
    except (ValueError, EOFError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ArtifactError(rel, f"malformed {what} pickle: {exc}") from exc
    return obj, end


def _contents(path: Path, rel: str, obj: Any, storages: dict[str, _Storage]) -> TorchContents:
    out: list[tuple[TensorInfo, TensorRef, _Storage]] = []
    for name, ref in _collect(obj, rel):
        st = storages.get(ref.storage.key)
        if st is None:
            raise ArtifactError(rel, f"tensor {name!r}: storage {ref.storage.key} missing")
        item = DTYPES[ref.storage.dtype][1]
        base = ref.storage.view_offset * item
        if base + ref.storage.numel * item > st.nbytes:
            raise ArtifactError(rel, f"tensor {name!r}: storage {ref.storage.key} is too short")
        _check_strided(rel, name, ref, ref.storage.numel)
        numel = int(np.prod(ref.shape, dtype=np.int64)) if ref.shape else 1
        info = TensorInfo(name, ref.storage.dtype, ref.shape, rel, numel * item)
        out.append((info, ref, _Storage(st.path, st.offset + base, ref.storage.numel * item)))
    return TorchContents(tuple(out))


def _check_strided(rel: str, name: str, ref: TensorRef, numel: int) -> None:
    if len(ref.shape) != len(ref.stride) or any(d < 0 for d in ref.shape + ref.stride):
        raise ArtifactError(rel, f"tensor {name!r}: bad shape {ref.shape} / stride {ref.stride}")
    if ref.offset < 0:
        raise ArtifactError(rel, f"tensor {name!r}: negative storage offset")
    if 0 in ref.shape:
        return
    last = ref.offset + sum((d - 1) * s for d, s in zip(ref.shape, ref.stride, strict=True))
    if last >= numel:
        raise ArtifactError(rel, f"tensor {name!r}: view reaches past the end of its storage")


def iter_tensors(contents: TorchContents) -> Iterator[Tensor]:
    for info, ref, st in contents.tensors:
        key = f"{info.file}#{ref.storage.key}+{ref.storage.view_offset + ref.offset}"
        yield Tensor(info, _loader(info, ref, st), storage_key=key)


def _loader(info: TensorInfo, ref: TensorRef, st: _Storage) -> Any:
    np_dtype = DTYPES[info.dtype][0]

    def load() -> npt.NDArray[Any]:
        flat = map_range(st.path, st.offset, st.nbytes).view(np_dtype)
        item = np_dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :],
            shape=ref.shape,
            strides=tuple(s * item for s in ref.stride),
            writeable=False,
        )
        return view

    return load
