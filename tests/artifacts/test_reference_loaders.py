"""Bitwise agreement with the reference loaders (torch.load(weights_only=True), safetensors)
for every dtype, view layout and container variant the readers claim to support."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as st_load_numpy
from safetensors.torch import load_file as st_load_torch
from safetensors.torch import save_file as st_save_torch

from weightwatch.artifacts import FileFormat, open_artifact

TORCH_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
    torch.complex64: "C64",
    torch.uint16: "U16",
    torch.uint32: "U32",
    torch.uint64: "U64",
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
}
UNTYPED = {
    f"t_{dt}"
    for dt in (torch.uint16, torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2)
}


def _torch_load(path):
    """Reference values, only from files this test built itself."""
    return torch.load(path, weights_only=True)  # noqa: TID251


def _raw(t: torch.Tensor) -> bytes:
    """The tensor's bytes in logical (row-major) order, whatever its dtype."""
    t = t.contiguous()
    if t.dtype == torch.bool:
        return t.numpy().tobytes()
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {}
    for dt in TORCH_DTYPES:
        base = torch.randn(5, 7, generator=g) * 50
        if dt == torch.bool:
            out[f"t_{dt}"] = base > 0
        elif dt.is_complex:
            out[f"t_{dt}"] = torch.complex(base, -base).to(dt)
        elif dt in (torch.uint16, torch.uint32, torch.uint64, torch.uint8):
            out[f"t_{dt}"] = base.abs().to(torch.int64).to(dt)
        else:
            out[f"t_{dt}"] = base.to(dt)
    return out


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_dtype_matches_torch_load(tmp_path, legacy):
    state = _state()
    path = tmp_path / "w.pt"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    if legacy:
        # torch.load cannot read its own legacy files holding untyped storages (uint16/32/64,
        # float8): compare those with the saved tensors, everything else with torch.load.
        classic = tmp_path / "classic.pt"
        torch.save(
            {k: v for k, v in state.items() if k not in UNTYPED},
            classic,
            _use_new_zipfile_serialization=False,
        )
        ref = {**state, **_torch_load(classic)}
        ours = {t.name: t.data().tobytes() for t in open_artifact(classic).iter_tensors()}
        assert ours == {k: _raw(v) for k, v in ref.items() if k not in UNTYPED}
    else:
        ref = _torch_load(path)
    art = open_artifact(path)
    fmt = FileFormat.PYTORCH_LEGACY if legacy else FileFormat.PYTORCH_ZIP
    assert art.files[0].format is fmt
    got = {t.name: t for t in art.iter_tensors()}
    assert set(got) == set(ref)
    for name, t in got.items():
        assert t.dtype == TORCH_DTYPES[ref[name].dtype], name
        assert t.shape == tuple(ref[name].shape)
        data = t.data()
        assert not data.flags.writeable
        assert data.tobytes() == _raw(ref[name]), name
        if t.dtype in ("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"):
            np.testing.assert_array_equal(t.to_float32(), ref[name].float().numpy())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_offsets_strides_and_sharing(tmp_path, legacy):
    base = torch.arange(64, dtype=torch.float32).reshape(8, 8)
    square = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    state = {
        "base": base,
        "tied": base,
        "row": base[3],  # storage offset
        "col": base[:, 5],  # stride 8
        "block": base[2:6, 1:7:2],  # offset and two strides
        "square": square,
        "square_t": square.t(),  # same storage, offset and shape: only strides differ
        "expanded": torch.ones(3).expand(4, 3),  # stride 0
        "empty": torch.zeros(0, 5),
        "scalar": torch.tensor(3.5),
    }
    path = tmp_path / "v.pt"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    ref = _torch_load(path)
    art = open_artifact(path)
    got = {t.name: t for t in art.iter_tensors()}
    for name, r in ref.items():
        assert got[name].shape == tuple(r.shape), name
        np.testing.assert_array_equal(got[name].data(), r.numpy(), err_msg=name)
        assert not got[name].data().flags.writeable
    assert got["base"].storage_key == got["tied"].storage_key
    assert got["square"].storage_key != got["square_t"].storage_key
    tied = dict(art.totals.tied)
    assert tied == {"base": "tied"}
    numel = sum(r.numel() for n, r in ref.items() if n != "tied")
    assert art.totals.parameter_count == numel
    assert art.totals.bytes_by_dtype == {"F32": 4 * numel}


def _rewrite_zip(src: bytes, *, compress: bool = False, big: bool = False) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(src))
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if big and info.filename.endswith("/byteorder"):
                data = b"big"
            if big and "/data/" in info.filename and not info.filename.endswith(".pkl"):
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            zout.writestr(info.filename, data, compress_type=method)
    return out.getvalue()


def test_compressed_storages_are_inflated(tmp_path):
    buf = io.BytesIO()
    state = {"w": torch.randn(16, 8), "v": torch.randn(16, 8)[:, 3]}
    torch.save(state, buf)
    path = tmp_path / "deflated.pt"
    path.write_bytes(_rewrite_zip(buf.getvalue(), compress=True))
    ref = _torch_load(path)
    got = {t.name: t.data() for t in open_artifact(path).iter_tensors()}
    for name in ref:
        assert got[name].tobytes() == _raw(ref[name]), name
        assert not got[name].flags.writeable


def test_big_endian_zip_matches_torch_load(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.randn(6, 4), "t": torch.randn(6, 4).t()}, buf)
    path = tmp_path / "be.pt"
    path.write_bytes(_rewrite_zip(buf.getvalue(), big=True))
    ref = _torch_load(path)
    for t in open_artifact(path).iter_tensors():
        assert t.data().dtype == np.dtype(">f4")
        np.testing.assert_array_equal(t.to_float32(), ref[t.name].numpy())


def test_safetensors_matches_reference_loaders(tmp_path):
    state = {k: v for k, v in _state().items() if v.dtype not in (torch.complex64,)}
    path = tmp_path / "m.safetensors"
    st_save_torch(state, path, metadata={"format": "pt"})
    ref = st_load_torch(path)
    art = open_artifact(path)
    for t in art.iter_tensors():
        assert t.data().tobytes() == _raw(ref[t.name]), t.name
    bf = art.tensor("t_torch.bfloat16")
    np.testing.assert_array_equal(bf.to_float32(), ref["t_torch.bfloat16"].float().numpy())


def test_numpy_dtypes_and_byte_orders(tmp_path):
    arrays = {
        "le": np.arange(12, dtype="<f4").reshape(3, 4),
        "be": np.arange(12, dtype=">f8").reshape(4, 3),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "b": np.array([True, False]),
        "u": np.arange(5, dtype=np.uint32),
    }
    np.savez(tmp_path / "s.npz", **arrays)
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    for name in ("s.npz", "c.npz"):
        got = {t.name: t for t in open_artifact(tmp_path / name).iter_tensors()}
        for k, a in arrays.items():
            np.testing.assert_array_equal(got[k].data(), a)
            assert not got[k].data().flags.writeable
        assert got["be"].dtype == "F64" and got["u"].dtype == "U32"
        np.testing.assert_array_equal(got["be"].to_float32(), arrays["be"].astype(np.float32))
    st = {"x": np.arange(4, dtype=np.float32)}
    from safetensors.numpy import save_file

    save_file(st, tmp_path / "n.safetensors")
    ref = st_load_numpy(tmp_path / "n.safetensors")
    got = next(open_artifact(tmp_path / "n.safetensors").iter_tensors())
    assert got.data().tobytes() == ref["x"].tobytes()


def test_every_fp8_bit_pattern_converts_exactly(tmp_path):
    bits = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    state = {"e4m3": bits.view(torch.float8_e4m3fn), "e5m2": bits.view(torch.float8_e5m2)}
    torch.save(state, tmp_path / "fp8.pt")
    for t in open_artifact(tmp_path / "fp8.pt").iter_tensors():
        expected = state[t.name].float().numpy()
        np.testing.assert_array_equal(t.to_float32(), expected)  # NaN positions equal too
