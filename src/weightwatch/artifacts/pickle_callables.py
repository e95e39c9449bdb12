"""The one table of callables a weight pickle may name, for the reader and the scanner.

The reader's allowlist (``torchrefs.ALLOWED``) and the scanner's safe set
(``scan.callables.SAFE``) both derive from ``PICKLE_CALLABLES``, so they cannot drift: a
global the reader loads is one the scanner calls safe (a test checks that no denylist
entry overrides one), else a benign checkpoint would scan as malicious. The scanner may
call more safe than the reader loads (plain data that numpy, joblib or ``copyreg``
pickles use); such entries say so with ``reader=None``. What is *dangerous* is not here:
that knowledge, and the severities, belong to ``scan.callables``.

This module is data only: ``torchrefs`` maps each ``Resolution`` to its stand-in, and
the scanner resolves module aliases (``_codecs`` is ``codecs``) before it looks a name up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Resolution(enum.Enum):
    """What the reader's restricted interpreter turns a loadable global into."""

    REBUILD_TENSOR = "rebuild_tensor"  # (storage, offset, size, stride, ...) -> TensorRef
    REBUILD_TENSOR_V3 = "rebuild_tensor_v3"  # the same over untyped bytes, plus a dtype
    REBUILD_PARAMETER = "rebuild_parameter"  # a Parameter is its tensor
    REBUILD_FROM_TYPE = "rebuild_from_type"  # a tensor subclass wrapped around a rebuild
    ORDERED_DICT = "ordered_dict"  # a dict that may carry BUILD state
    SIZE = "size"  # torch.Size: a tuple of ints
    LATIN1 = "latin1"  # _codecs.encode(text, "latin1"): protocol 2 bytes
    STORAGE_TYPE = "storage_type"  # named in a persistent id; never called
    DTYPE = "dtype"  # passed to _rebuild_tensor_v3; never called
    TENSOR_TYPE = "tensor_type"  # passed to _rebuild_from_type_v2; never called


@dataclass(frozen=True)
class PickleCallable:
    """One global a weight pickle may name, and whether the reader loads it.

    ``reader`` None: the scanner calls it safe but the reader refuses it. ``dtype`` is
    the safetensors-style code a storage-type or dtype marker stands for.
    """

    name: str  # "module.qualname" exactly as the pickle spells it
    reader: Resolution | None
    dtype: str | None = None

    @property
    def loadable(self) -> bool:
        return self.reader is not None


# ``torch.distributed.checkpoint``'s ``.metadata`` pickle: dataclasses rebuilt with NEWOBJ
# and BUILD whose ``__init__``/``__setstate__`` only assign fields (checked against torch
# 2.13's source), and an enum looked up by value. Exact names: the rest of
# ``torch.distributed`` stays denylisted, because an exact entry here is the only thing
# that outranks a denylisted prefix (``scan.callables.classify``).
_DCP_RECORDS = (
    *(
        f"torch.distributed.checkpoint.metadata.{name}"
        for name in (
            "Metadata", "TensorStorageMetadata", "TensorProperties", "ChunkStorageMetadata",
            "BytesStorageMetadata", "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING",
        )
    ),
    "torch.distributed.checkpoint.filesystem._StorageInfo",
)  # fmt: skip


def _loadable(resolution: Resolution, *names: str) -> list[PickleCallable]:
    return [PickleCallable(name, resolution) for name in names]


def _markers(resolution: Resolution, dtypes: Mapping[str, str]) -> list[PickleCallable]:
    return [PickleCallable(name, resolution, dtype) for name, dtype in dtypes.items()]


def _scanner_safe(*names: str) -> list[PickleCallable]:
    return [PickleCallable(name, None) for name in names]


_STORAGE_TYPES = {
    f"torch.{kind}Storage": dtype
    for kind, dtype in {
        "Double": "F64", "Float": "F32", "Half": "F16", "BFloat16": "BF16",
        "Long": "I64", "Int": "I32", "Short": "I16", "Char": "I8", "Byte": "U8",
        "Bool": "BOOL", "ComplexFloat": "C64", "ComplexDouble": "C128",
    }.items()
}  # fmt: skip
# torch >= 2.1 writes untyped storages (bytes) for uint16/32/64 and float8 tensors
_UNTYPED_STORAGES = {"torch.storage.UntypedStorage": "U8", "torch.UntypedStorage": "U8"}
_DTYPES = {
    f"torch.{name}": dtype
    for name, dtype in {
        "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
        "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
        "uint16": "U16", "uint32": "U32", "uint64": "U64",
        "bool": "BOOL", "complex64": "C64", "complex128": "C128",
        "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    }.items()
}  # fmt: skip
# Quantized and sparse tensors, layouts and memory formats: data, but the reader does not
# rebuild them (it refuses the file rather than misread it).
_TORCH_UNREAD = (
    "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_meta_tensor_no_storage", "torch._tensor._rebuild_from_type",
    "torch.device", "torch.serialization._get_layout",
    "torch.QInt8Storage", "torch.QUInt8Storage", "torch.QInt32Storage", "torch.QUInt4x2Storage",
    "torch.qint8", "torch.quint8", "torch.qint32", "torch.per_tensor_affine",
    "torch.per_channel_affine", "torch.strided", "torch.sparse_coo", "torch.channels_last",
    "torch.contiguous_format", "torch.preserve_format",
    # dtypes the reader does not map (torch 2.1-2.13 pickles them by these names)
    "torch.complex32", "torch.float8_e4m3fnuz", "torch.float8_e5m2fnuz", "torch.float8_e8m0fnu",
    "torch.float4_e2m1fn_x2", "torch.bits8", "torch.bits16", "torch.bits1x8", "torch.bits2x4",
    "torch.bits4x2", "torch.quint4x2", "torch.quint2x4",
    *(f"torch.{kind}{n}" for kind in ("uint", "int") for n in range(1, 8)),
)  # fmt: skip
# NumPy scalar types: pickles name them as classes (an estimator's ``dtype=np.float64``)
# and call them to rebuild scalars; both are plain data.
_NUMPY_SCALARS = tuple(
    f"numpy.{name}"
    for name in (
        "float64", "float32", "float16", "longdouble", "int64", "int32", "int16", "int8",
        "uint64", "uint32", "uint16", "uint8", "bool_", "complex64", "complex128",
        "clongdouble", "object_", "str_", "bytes_", "datetime64", "timedelta64", "void",
        "intc", "uintc", "longlong", "ulonglong", "generic", "number", "integer", "floating",
    )
)  # fmt: skip
_BUILTINS = tuple(
    f"builtins.{name}"
    for name in (
        "set", "frozenset", "bytearray", "slice", "complex", "int", "float", "bool", "str",
        "bytes", "list", "tuple", "dict", "range",
    )
)  # fmt: skip

# pandas' own rebuild helpers and data classes, as ``DataFrame.to_pickle`` and
# ``pickle.dump`` of pandas objects write them (pandas 2.x/3.x). Not ``pandas.*``: the
# readers (``read_pickle``, ``pandas.io``) and ``pandas.eval`` stay known-dangerous.
_PANDAS = (
    "pandas.DataFrame", "pandas.Series", "pandas.Index", "pandas.RangeIndex",
    "pandas.MultiIndex", "pandas.DatetimeIndex", "pandas.TimedeltaIndex", "pandas.PeriodIndex",
    "pandas.CategoricalIndex", "pandas.IntervalIndex", "pandas.Categorical",
    "pandas.CategoricalDtype", "pandas.DatetimeTZDtype", "pandas.PeriodDtype",
    "pandas.IntervalDtype", "pandas.SparseDtype", "pandas.StringDtype", "pandas.BooleanDtype",
    "pandas.Int8Dtype", "pandas.Int16Dtype", "pandas.Int32Dtype", "pandas.Int64Dtype",
    "pandas.UInt8Dtype", "pandas.UInt16Dtype", "pandas.UInt32Dtype", "pandas.UInt64Dtype",
    "pandas.Float32Dtype", "pandas.Float64Dtype", "pandas.NA", "pandas.Timestamp",
    "pandas.Timedelta", "pandas.Period", "pandas.Interval",
    "pandas.arrays.BooleanArray", "pandas.arrays.DatetimeArray", "pandas.arrays.FloatingArray",
    "pandas.arrays.IntegerArray", "pandas.arrays.IntervalArray", "pandas.arrays.PeriodArray",
    "pandas.arrays.SparseArray", "pandas.arrays.StringArray", "pandas.arrays.TimedeltaArray",
    "pandas.arrays.NumpyExtensionArray", "pandas.arrays.ArrowStringArray",
    "pandas.core.indexes.base._new_Index", "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.managers.SingleBlockManager",
    "pandas._libs.internals._unpickle_block", "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    "pandas._libs.interval.__pyx_unpickle_IntervalMixin", "pandas._libs.interval.Interval",
    "pandas._libs.sparse.IntIndex", "pandas._libs.sparse.BlockIndex",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.nattype.__nat_unpickle", "pandas._libs.tslibs.period.Period",
    *(
        f"pandas._libs.tslibs.offsets.{name}"
        for name in (
            "Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano", "Week", "MonthEnd",
            "MonthBegin", "QuarterEnd", "QuarterBegin", "YearEnd", "YearBegin", "BusinessDay",
        )
    ),
)  # fmt: skip

PICKLE_CALLABLES: tuple[PickleCallable, ...] = (
    # -- loadable: torch.save state dicts, read through torchrefs' stand-ins ---------------
    *_loadable(
        Resolution.REBUILD_TENSOR, "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2"
    ),
    *_loadable(Resolution.REBUILD_TENSOR_V3, "torch._utils._rebuild_tensor_v3"),
    *_loadable(
        Resolution.REBUILD_PARAMETER,
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ),
    *_loadable(Resolution.REBUILD_FROM_TYPE, "torch._tensor._rebuild_from_type_v2"),
    *_loadable(Resolution.ORDERED_DICT, "collections.OrderedDict"),
    *_loadable(Resolution.SIZE, "torch.Size"),
    *_loadable(Resolution.LATIN1, "_codecs.encode"),
    *_markers(Resolution.STORAGE_TYPE, _STORAGE_TYPES),
    *_markers(Resolution.STORAGE_TYPE, _UNTYPED_STORAGES),
    *_markers(Resolution.DTYPE, _DTYPES),
    *_loadable(Resolution.TENSOR_TYPE, "torch.Tensor", "torch.nn.parameter.Parameter"),
    # -- scanner-safe only: the reader refuses these, the scanner does not flag them -------
    *_scanner_safe(*_TORCH_UNREAD),
    *_scanner_safe(
        "copyreg._reconstructor",  # protocol 0/1 objects: the class it gets is judged itself
        "builtins.object",  # the base copyreg._reconstructor gets; its dunders stay critical
        "collections.defaultdict",
        *_BUILTINS,
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle.NDArrayWrapper",
        "argparse.Namespace",
        "datetime.datetime",
        "datetime.date",
        "datetime.timedelta",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.PurePosixPath",
        "datetime.timezone",
        "datetime.time",
        "zoneinfo.ZoneInfo",
        "zoneinfo.ZoneInfo._unpickle",  # reached as getattr(ZoneInfo, "_unpickle")
        *_DCP_RECORDS,
        *_PANDAS,
        *_NUMPY_SCALARS,
    ),
)
