"""Keras / HDF5 weights (``.h5``, ``.weights.h5``, ``tf_model.h5``) as lazy tensors.

Read with ``h5py`` (the HDF5 project's own library): datasets only, by path, never an
attribute's pickled object or a Keras config (Lambda layers are the scanner's business).
Tensor names are the dataset paths with ``/`` turned into ``.`` (``model_weights.dense.
dense.kernel:0``). Keras stores Dense kernels as ``[in, out]``; names are not mapped to
Hugging Face names, so such weights are *seen* (counted, hashed) but not fingerprinted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.artifacts.model import Tensor, TensorInfo
from weightwatch.errors import ArtifactError

MAX_DATASETS = 1_000_000
_DTYPES = {
    "float32": "F32",
    "float16": "F16",
    "float64": "F64",
    "int8": "I8",
    "uint8": "U8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
}


def iter_tensors(path: Path, *, rel: str | None = None) -> Iterator[Tensor]:
    import h5py

    name = rel or str(path)
    found: list[tuple[str, str, tuple[int, ...]]] = []
    try:
        with h5py.File(path, "r") as f:

            def visit(key: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset) and obj.dtype.name in _DTYPES:
                    found.append((key, obj.dtype.name, tuple(int(d) for d in obj.shape)))
                if len(found) > MAX_DATASETS:
                    raise ArtifactError(name, f"more than {MAX_DATASETS} datasets")

            f.visititems(visit)
    except ArtifactError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError on damaged files
        raise ArtifactError(name, f"HDF5 file unreadable: {exc}") from exc
    if not found:
        raise ArtifactError(name, "HDF5 file holds no numeric datasets (no weights)")
    for key, dt, shape in found:
        numel = int(np.prod(shape)) if shape else 1
        info = TensorInfo(
            key.replace("/", "."), _DTYPES[dt], shape, name, numel * np.dtype(dt).itemsize
        )
        yield Tensor(info, _loader(path, key, name))


def _loader(path: Path, key: str, name: str) -> Any:
    def load() -> npt.NDArray[Any]:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return np.asarray(f[key][()])
        except Exception as exc:
            raise ArtifactError(name, f"HDF5 dataset {key!r} unreadable: {exc}") from exc

    return load
