"""Corrupt, truncated and hostile files: always an ArtifactError naming the file, never a crash."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from tests.artifacts.builders import (
    legacy_torch_with_pickle,
    malicious_pickles,
    safetensors_bytes,
    torch_zip_with_pickle,
)
from weightwatch.artifacts import open_artifact
from weightwatch.errors import ArtifactError


def _expect_error(path: Path, match: str | None = None) -> ArtifactError:
    with pytest.raises(ArtifactError) as info:
        art = open_artifact(path)
        for t in art.iter_tensors():
            t.to_float32()
    assert path.name in str(info.value)
    if match:
        assert match in str(info.value), str(info.value)
    return info.value


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


GOOD = {"a": np.arange(8, dtype=np.float32), "b": np.ones((2, 2), dtype=np.float16)}


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ({"a": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, "unknown dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, "non-negative"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, "needs 8"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 10**12]}}, "outside the data"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, "outside the data"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            "overlap",
        ),
        ({"__metadata__": {"k": 1}}, "__metadata__"),
        ({"a": "nope"}, "not an object"),
    ],
)
def test_safetensors_bad_headers(tmp_path, header, match):
    data = safetensors_bytes({"x": np.zeros(4, np.float32)}, header=header)
    _expect_error(_write(tmp_path, "bad.safetensors", data), match)


def test_safetensors_absurd_header_length(tmp_path):
    # binary length bytes then JSON: a (malformed) safetensors file, refused by the reader
    data = struct.pack("<Q", 2**60) + b'{"a": 1}' + b"\0" * 64
    _expect_error(_write(tmp_path, "x.safetensors", data), "exceeds")
    data = struct.pack("<Q", 200 * 1024 * 1024) + b'{"' + b"\0" * 64
    _expect_error(_write(tmp_path, "y.safetensors", data), "exceeds")
    data = struct.pack("<Q", 1 << 20) + b'{"' + b"\0" * 64
    _expect_error(_write(tmp_path, "z.safetensors", data), "past end")
    # text with a brace at byte 8 is not mistaken for one: it is refused as text (#14),
    # never opened as a model of 0 parameters
    p = _write(tmp_path, "notes.safetensors", b'abcdefgh{"x": 1}\n')
    _expect_error(p, "holds text")


def test_safetensors_truncated_data(tmp_path):
    data = safetensors_bytes(GOOD)
    _expect_error(_write(tmp_path, "t.safetensors", data[:-5]), "outside the data")


def test_gguf_absurd_counts(tmp_path):
    hdr = b"GGUF" + struct.pack("<IQQ", 3, 2**60, 2**60)
    _expect_error(_write(tmp_path, "a.gguf", hdr + b"\0" * 100), "claims")
    hdr = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"key"
    _expect_error(_write(tmp_path, "b.gguf", hdr), "past the end")
    # an array of 2**40 strings
    key = struct.pack("<Q", 3) + b"k.k"
    arr = struct.pack("<IIQ", 9, 8, 2**40)
    hdr = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + key + arr
    _expect_error(_write(tmp_path, "c.gguf", hdr + b"\0" * 64), "claims")
    _expect_error(
        _write(tmp_path, "d.gguf", b"GGUF" + struct.pack("<I", 1) + b"\0" * 32), "version"
    )


def _gguf_bytes(tmp_path: Path) -> bytes:
    p = tmp_path / "ok.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_name("ok")
    w.add_tensor("w", np.arange(64, dtype=np.float32).reshape(2, 32))
    w.add_tensor(
        "q",
        gguf.quants.quantize(np.ones((2, 32), np.float32), gguf.GGMLQuantizationType.Q8_0),
        raw_dtype=gguf.GGMLQuantizationType.Q8_0,
    )
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = p.read_bytes()
    p.unlink()
    return data


def test_gguf_truncated(tmp_path):
    data = _gguf_bytes(tmp_path)
    for cut in (10, 40, len(data) // 2, len(data) - 40):  # the last 31 bytes may be padding
        _expect_error(_write(tmp_path, f"t{cut}.gguf", data[:cut]))


def test_torch_zip_missing_storage_and_bad_view(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.ones(4)}, buf)
    zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if "/data/" not in info.filename:
                zout.writestr(info.filename, zin.read(info.filename))
    _expect_error(_write(tmp_path, "nostorage.pt", out.getvalue()), "missing")
    # a view that reaches past its storage: shrink the storage record to 4 bytes
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, data[:4] if "/data/" in info.filename else data)
    _expect_error(_write(tmp_path, "short.pt", out.getvalue()), "too short")


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_pickle(tmp_path, depth):
    data = b"\x80\x02" + b"(" * depth + b"l" * depth + b"."
    _expect_error(_write(tmp_path, f"deep{depth}.pt", torch_zip_with_pickle(data)))
    data = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."  # lists nested by APPEND
    _expect_error(
        _write(tmp_path, f"deep2-{depth}.pt", torch_zip_with_pickle(data)), "nests deeper"
    )


def test_recursive_pickle(tmp_path):
    a: list = []
    a.append(a)
    data = pickle.dumps({"loop": a, "d": {}}, protocol=2)
    art = open_artifact(_write(tmp_path, "loop.pt", torch_zip_with_pickle(data)))
    assert list(art.iter_tensors()) == []


def test_huge_claimed_lengths_in_pickle(tmp_path):
    data = b"\x80\x04\x8d" + struct.pack("<Q", 2**40) + b"abc"  # BINUNICODE8 of 1 TB
    _expect_error(_write(tmp_path, "huge.pt", torch_zip_with_pickle(data)))
    data = b"\x80\x04\x8e" + struct.pack("<Q", 2**62)  # BINBYTES8
    _expect_error(_write(tmp_path, "huge2.pt", torch_zip_with_pickle(data)))
    data = b"\x80\x02N" + b"r" + struct.pack("<I", 2**31) + b"."  # LONG_BINPUT at 2**31
    art = open_artifact(_write(tmp_path, "memo.pt", torch_zip_with_pickle(data)))
    assert list(art.iter_tensors()) == []


def test_malicious_pickles_refused_naming_the_callable(tmp_path):
    marker = tmp_path / "pwned"
    for name, data in malicious_pickles(marker).items():
        for container, payload in (
            ("zip", torch_zip_with_pickle(data)),
            ("legacy", legacy_torch_with_pickle(data)),
        ):
            p = _write(tmp_path, f"{name}-{container}.bin", payload)
            err = open_artifact_error(p)
            assert err is not None and f"refused callable {name}" in str(err), (name, str(err))
    assert not marker.exists()


def open_artifact_error(path: Path) -> ArtifactError | None:
    try:
        art = open_artifact(path)
        list(art.iter_tensors())
    except ArtifactError as exc:
        return exc
    return None


# ---------------------------------------------------------------- property tests


def _valid_files(tmp: Path) -> dict[str, bytes]:
    save_file(GOOD, tmp / "v.safetensors")
    torch.save(
        {"w": torch.arange(6.0).reshape(2, 3), "t": torch.ones(2, dtype=torch.bfloat16)},
        tmp / "z.pt",
    )
    torch.save(
        {"w": torch.arange(6.0).reshape(2, 3)}, tmp / "l.pt", _use_new_zipfile_serialization=False
    )
    np.save(tmp / "a.npy", np.arange(10, dtype=np.int32))
    np.savez(tmp / "s.npz", x=np.arange(6.0).reshape(2, 3), y=np.ones(3, ">i4"))
    np.savez_compressed(tmp / "c.npz", x=np.arange(6.0))
    with zipfile.ZipFile(tmp / "z.pt") as zin, zipfile.ZipFile(tmp / "d.pt", "w") as zout:
        for info in zin.infolist():  # the same checkpoint with deflated storages
            zout.writestr(info.filename, zin.read(info), compress_type=zipfile.ZIP_DEFLATED)
    names = ("v.safetensors", "z.pt", "d.pt", "l.pt", "a.npy", "s.npz", "c.npz")
    files = {n: (tmp / n).read_bytes() for n in names}
    files["g.gguf"] = _gguf_bytes(tmp)
    return files


_BASE: dict[str, bytes] = {}


def _base_files(tmp_path_factory) -> dict[str, bytes]:
    if not _BASE:
        _BASE.update(_valid_files(tmp_path_factory.mktemp("valid")))
    return _BASE


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
)


def _mutate(data: bytes, muts: list[tuple[str, int, int]]) -> bytes:
    b = bytearray(data)
    for kind, pos, val in muts:
        if not b:
            break
        i = pos % len(b)
        if kind == "flip":
            b[i] ^= 1 << val
        elif kind == "truncate":
            del b[i:]
        elif kind == "insert":
            b.insert(i, val)
        else:
            b[i] = val
    return bytes(b)


@pytest.mark.parametrize(
    "name", ["v.safetensors", "z.pt", "d.pt", "l.pt", "a.npy", "s.npz", "c.npz", "g.gguf"]
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(muts=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_files_never_crash(tmp_path_factory, tmp_path, name, muts):
    data = _mutate(_base_files(tmp_path_factory)[name], muts)
    p = tmp_path / name
    p.write_bytes(data)
    try:
        art = open_artifact(p)
        for t in art.iter_tensors():
            t.to_float32()
        _ = art.totals
    except ArtifactError as exc:
        assert name in str(exc)
