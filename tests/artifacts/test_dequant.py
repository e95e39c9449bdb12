"""Block dequantization (``artifacts.dequant``): bit-identical to ``gguf.quants``.

The fingerprint and the value digest read every quantized weight through these kernels;
a value that differed in one bit would change a stored value digest, so equality is
checked on the float32 bit patterns (NaN payloads included), for random blocks (every
scale and code, infinities and NaNs among them) and for quantized real-looking weights.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf.quants import dequantize as reference
from gguf.quants import quantize

from weightwatch.artifacts import open_artifact
from weightwatch.artifacts.dequant import (
    _SIZES,
    _block_size,
    _dequantize_numpy,
    _ggml,
    _ggml_row,
    checked,
    chunked,
    dequantize,
    has_kernel,
    row_chunks,
)

TYPES = sorted(_SIZES)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("qtype", TYPES)
def test_random_blocks_bit_identical(qtype: str) -> None:
    per_block, nbytes = _SIZES[qtype]
    rng = np.random.default_rng(len(qtype))
    # 3 rows of 700 blocks: more than one internal chunk for every type
    raw = rng.integers(0, 256, size=(3, 700 * nbytes), dtype=np.uint8)
    with np.errstate(all="ignore"):
        want = reference(raw, GGMLQuantizationType[qtype])
        got = dequantize(raw, qtype)
    assert got.shape == want.shape == (3, 700 * per_block)
    assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("qtype", [t for t in TYPES if t in ("Q4_0", "Q4_1", "Q5_0", "Q8_0")])
def test_quantized_weights_bit_identical(qtype: str) -> None:
    rng = np.random.default_rng(7)
    w = rng.standard_normal((64, 512)).astype(np.float32) * 0.02
    raw = quantize(w, GGMLQuantizationType[qtype])
    got = dequantize(raw, qtype)
    assert np.array_equal(_bits(got), _bits(reference(raw, GGMLQuantizationType[qtype])))
    assert np.abs(got - w).max() < 0.01  # and it is a dequantization of w at all


@pytest.mark.parametrize("qtype", TYPES)
def test_numpy_kernels_bit_identical_without_ggml(qtype: str) -> None:
    """The numpy kernels stay exact on their own (where ggml is absent or refused)."""
    nbytes = _SIZES[qtype][1]
    raw = np.random.default_rng(11).integers(0, 256, size=(2, 300 * nbytes), dtype=np.uint8)
    with np.errstate(all="ignore"):
        want = reference(raw, GGMLQuantizationType[qtype])
        got = _dequantize_numpy(raw, qtype)
    assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("qtype", [*TYPES, "Q5_1", "Q2_K", "Q3_K", "Q5_K"])
def test_ggml_rows_bit_identical_where_installed(qtype: str) -> None:
    """llama-cpp-python's ggml dequantizers, where installed, pass the probe and match
    gguf.quants on blocks the probe never saw (one row of 1,111 blocks)."""
    if _ggml() is None:
        pytest.skip("llama-cpp-python not installed: the numpy kernels serve")
    row = _ggml_row(qtype)
    assert row is not None, f"ggml's {qtype} dequantizer differs from gguf.quants here"
    per_block, nbytes = _block_size(qtype)
    raw = np.random.default_rng(99).integers(0, 256, size=(1, 1111 * nbytes), dtype=np.uint8)
    got = np.empty(1111 * per_block, dtype=np.float32)
    row(raw.ctypes.data, got.ctypes.data, got.size)
    with np.errstate(all="ignore"):
        want = reference(raw, GGMLQuantizationType[qtype]).reshape(-1)
    assert np.array_equal(_bits(got), _bits(want))


def _q8_0_row(flip: bool):  # type: ignore[no-untyped-def]
    """A stand-in for a ggml row function: exact Q8_0, or off by one ulp in one value."""

    def row(src: int, dst: int, n: int) -> None:
        out = np.ctypeslib.as_array(ctypes.cast(dst, ctypes.POINTER(ctypes.c_float)), (n,))
        nbytes = n // 32 * 34
        raw = np.ctypeslib.as_array(ctypes.cast(src, ctypes.POINTER(ctypes.c_uint8)), (nbytes,))
        with np.errstate(all="ignore"):
            out[:] = _dequantize_numpy(raw.reshape(1, -1), "Q8_0").reshape(-1)
        if flip:
            out.view(np.uint32)[0] ^= 1

    return row


def test_a_dequantizer_that_differs_is_refused() -> None:
    """A ggml build whose arithmetic differs (by one ulp, say) is never used."""
    assert checked(_q8_0_row(flip=True), "Q8_0") is None
    exact = _q8_0_row(flip=False)
    assert checked(exact, "Q8_0") is exact


def test_other_types_fall_back_to_gguf() -> None:
    assert not has_kernel("Q2_K")
    raw = np.random.default_rng(1).integers(0, 256, size=(2, 84), dtype=np.uint8)
    with np.errstate(all="ignore"):
        want = reference(raw, GGMLQuantizationType.Q2_K)
        got = dequantize(raw, "Q2_K")
    assert np.array_equal(_bits(got), _bits(want))


def test_partial_block_is_refused() -> None:
    with pytest.raises(ValueError, match="whole Q8_0 blocks"):
        dequantize(np.zeros((1, 35), dtype=np.uint8), "Q8_0")


def _write_gguf(path: Path) -> dict[str, np.ndarray]:
    import gguf

    rng = np.random.default_rng(3)
    w = gguf.GGUFWriter(str(path), "llama")
    values: dict[str, np.ndarray] = {}
    for name, qtype in (
        ("a", GGMLQuantizationType.Q8_0),
        ("b", GGMLQuantizationType.Q4_0),
        ("c", GGMLQuantizationType.BF16),
    ):
        x = rng.standard_normal((300, 64)).astype(np.float32)
        q = quantize(x, qtype)
        w.add_tensor(name, q, raw_dtype=qtype)
        values[name] = reference(q, qtype) if qtype != GGMLQuantizationType.BF16 else q
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return values


def test_row_chunks_match_whole_tensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import weightwatch.artifacts.dequant as dq

    monkeypatch.setattr(dq, "ROW_CHUNK_VALUES", 64 * 70)  # several blocks of rows
    path = tmp_path / "m.gguf"
    _write_gguf(path)
    tensors = {t.name: t for t in open_artifact(path).model_tensors}
    for t in tensors.values():
        assert chunked(t)
        pieces = list(row_chunks(t))
        assert [a for a, _ in pieces] == [0, 70, 140, 210, 280]
        joined = np.concatenate([p for _, p in pieces])
        assert np.array_equal(_bits(joined), _bits(t.to_float32()))


def test_gguf_header_reparsed_after_rewrite(tmp_path: Path) -> None:
    """A parsed header is reused per file, but never for a file changed since."""
    from weightwatch.artifacts.gguf import read_gguf

    path = tmp_path / "m.gguf"
    _write_gguf(path)
    first = read_gguf(path)
    assert read_gguf(path) is first  # reused
    st = path.stat()
    data = bytearray(path.read_bytes())
    i = data.index(b"\x01" + bytes(7) + b"c") + 8  # tensor name "c" -> "d": same size
    data[i : i + 1] = b"d"
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    again = read_gguf(path)
    assert again is not first
    assert [t[0].name for t in again.tensors][-1] == "d"
