"""#14: the weights are found whatever they are wrapped in, within the bomb limits.

Every wrapper is made with the tool an uploader would use (gzip/bz2/lzma from the
standard library, zstandard, lz4, zipfile, tarfile, py7zr, coreutils ``split``), around a
real tiny model; the opened copy must have the base's tensors, values and fingerprint.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from weightwatch.artifacts import UnpackLimits, open_artifact
from weightwatch.errors import ArtifactError
from weightwatch.fingerprint import fingerprint
from weightwatch.lineage import compare


def _compress(fmt: str) -> Callable[[bytes], bytes]:
    if fmt == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress
    if fmt == "lz4":
        import lz4.frame

        return lz4.frame.compress  # type: ignore[no-any-return]
    return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[fmt]


@pytest.fixture(scope="module")
def base(llama_family) -> Path:  # type: ignore[no-untyped-def]
    return Path(llama_family.base)


@pytest.fixture(scope="module")
def base_values(base: Path) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.to_float32()) for t in open_artifact(base).iter_tensors()}


def _same_weights(art_path: Path, base_values: dict[str, np.ndarray]) -> None:
    art = open_artifact(art_path)
    got = {t.name: t.to_float32() for t in art.iter_tensors()}
    assert got.keys() == base_values.keys()
    for k, v in base_values.items():
        np.testing.assert_array_equal(got[k], v)


def _copy_without_weights(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("model.safetensors"))
    return dest


@pytest.mark.parametrize("fmt", ["gz", "bz2", "xz", "zst", "lz4"])
def test_compressed_single_file(tmp_path, base, base_values, fmt):
    d = _copy_without_weights(base, tmp_path / fmt)
    (d / f"model.safetensors.{fmt}").write_bytes(
        _compress(fmt)((base / "model.safetensors").read_bytes())
    )
    _same_weights(d, base_values)
    art = open_artifact(d)
    assert art.primary_files == ("model.safetensors",)
    shown = {f.path: f for f in art.files}
    assert f"model.safetensors.{fmt}" in shown  # the upload as it came, listed
    assert "model.safetensors." + fmt in shown["model.safetensors"].detail


def test_renamed_compressed_file_is_sniffed(tmp_path, base, base_values):
    d = _copy_without_weights(base, tmp_path / "renamed")
    (d / "weights.dat").write_bytes(gzip.compress((base / "model.safetensors").read_bytes()))
    _same_weights(d, base_values)
    # and a compressed file opened directly
    _same_weights(d / "weights.dat", base_values)


def test_zip_tar_7z_and_nested(tmp_path, base, base_values):
    import py7zr

    up = tmp_path / "uploads"
    up.mkdir()
    with zipfile.ZipFile(up / "model.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(base.iterdir()):
            z.write(f, f.name)
    with tarfile.open(up / "model.tar.gz", "w:gz") as t:
        t.add(base, arcname="my-model")  # a folder archived whole
    with tarfile.open(up / "model.tar", "w") as t:
        t.add(base, arcname=".")
    with py7zr.SevenZipFile(up / "model.7z", "w") as s:
        s.writeall(base, arcname="m")
    # zip inside a tar.xz inside a folder: two wrappers deep
    with tarfile.open(up / "nested.tar.xz", "w:xz") as t:
        t.add(up / "model.zip", arcname="inner/model.zip")
    for name in ("model.zip", "model.tar.gz", "model.tar", "model.7z", "nested.tar.xz"):
        _same_weights(up / name, base_values)
        d = tmp_path / f"folder-{name}"
        d.mkdir()
        shutil.copy(up / name, d / name)
        art = open_artifact(d)
        assert art.tokenizer is not None and art.config is not None, name
        assert fingerprint(art).info["layers"] == 2


@pytest.mark.parametrize("style", ["split", "split-numeric", "part", "dot-number"])
def test_split_parts_are_joined(tmp_path, base, base_values, style):
    d = _copy_without_weights(base, tmp_path / style)
    src = base / "model.safetensors"
    if style.startswith("split"):
        flag = ["-d"] if style == "split-numeric" else []
        subprocess.run(
            ["split", "-b", "300000", *flag, str(src), str(d / "model.safetensors.")], check=True
        )
        if style == "split-numeric":  # -d gives .00/.01: numbered from zero
            assert (d / "model.safetensors.00").exists()
    else:
        data = src.read_bytes()
        chunks = [data[i : i + 400_000] for i in range(0, len(data), 400_000)]
        assert len(chunks) > 1
        for i, c in enumerate(chunks, start=1):
            name = f"model.safetensors.part{i}" if style == "part" else f"model.safetensors.{i:03d}"
            (d / name).write_bytes(c)
    _same_weights(d, base_values)


def test_split_parts_of_a_compressed_file(tmp_path, base, base_values):
    d = _copy_without_weights(base, tmp_path / "gzsplit")
    blob = gzip.compress((base / "model.safetensors").read_bytes())
    half = len(blob) // 2
    (d / "model.safetensors.gz.part1").write_bytes(blob[:half])
    (d / "model.safetensors.gz.part2").write_bytes(blob[half:])
    _same_weights(d, base_values)


def test_sharded_set_without_index(tmp_path, base, base_values):
    from safetensors.numpy import load_file, save_file

    d = _copy_without_weights(base, tmp_path / "shards")
    tensors = load_file(str(base / "model.safetensors"))
    names = sorted(tensors)
    save_file({k: tensors[k] for k in names[::2]}, str(d / "model-00001-of-00002.safetensors"))
    save_file({k: tensors[k] for k in names[1::2]}, str(d / "model-00002-of-00002.safetensors"))
    assert not (d / "model.safetensors.index.json").exists()
    _same_weights(d, base_values)


def test_gzip_bomb_is_refused_naming_the_file(tmp_path):
    d = tmp_path / "bomb"
    d.mkdir()
    (d / "model.safetensors.gz").write_bytes(gzip.compress(b"\0" * (64 << 20)))  # 1000x
    with pytest.raises(ArtifactError, match=r"model\.safetensors\.gz.*decompression bomb"):
        open_artifact(d)
    small = UnpackLimits(member=8 << 20, ratio=10**9)
    with pytest.raises(ArtifactError, match="inflates past 8388608 bytes"):
        open_artifact(d, limits=small)


def test_zip_and_7z_bombs_and_escapes_are_refused(tmp_path):
    import py7zr

    d = tmp_path / "zipbomb"
    d.mkdir()
    with zipfile.ZipFile(d / "m.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.safetensors", b"\0" * (64 << 20))
    with pytest.raises(ArtifactError, match="decompression bomb"):
        open_artifact(d)
    e = tmp_path / "escape"
    e.mkdir()
    with zipfile.ZipFile(e / "m.zip", "w") as z:
        z.writestr("../../etc/model.safetensors", b"x" * 100)
    with pytest.raises(ArtifactError, match="escapes the folder"):
        open_artifact(e)
    s = tmp_path / "sevenbomb"
    s.mkdir()
    (tmp_path / "zeros.bin").write_bytes(b"\0" * (64 << 20))
    with py7zr.SevenZipFile(s / "m.7z", "w") as z:
        z.write(tmp_path / "zeros.bin", "model.safetensors")
    with pytest.raises(ArtifactError, match="7z expands"):
        open_artifact(s)


@pytest.mark.parametrize("member", ["", ".", "./."])
def test_zip_member_without_a_file_name_is_refused(tmp_path, member):
    """A mutated .npz found this: an empty member name crashed ``ZipInfo.is_dir()``."""
    p = tmp_path / "m.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(zipfile.ZipInfo(member), b"x" * 100)
    with pytest.raises(ArtifactError, match=r"m\.npz: .*has no file name"):
        open_artifact(p)


def test_nesting_depth_is_bounded(tmp_path):
    data = b"not a model"
    for _ in range(6):
        data = gzip.compress(data)
    p = tmp_path / "deep.gz"
    p.write_bytes(data)
    with pytest.raises(ArtifactError, match="nested more than 4 deep"):
        open_artifact(p)


def test_damaged_stream_is_a_clear_error(tmp_path, base):
    blob = gzip.compress((base / "model.safetensors").read_bytes())
    p = tmp_path / "model.safetensors.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ArtifactError, match=r"model\.safetensors\.gz: gzip stream is damaged"):
        open_artifact(p)


def test_unwrapped_copy_links_to_base_as_identical(tmp_path, base):
    d = _copy_without_weights(base, tmp_path / "xz")
    (d / "model.safetensors.xz").write_bytes(
        lzma.compress((base / "model.safetensors").read_bytes())
    )
    c = compare(fingerprint(base), fingerprint(d))
    assert c.relation == "identical" and c.verdict == "derived"


def test_unwrapping_never_writes_to_the_upload(tmp_path, base):
    """A wrapper whose unpacked name is already taken lands under ``<wrapper>.d/``; the
    view's hard links to uploaded files are never written through."""
    d = tmp_path / "twins"
    shutil.copytree(base, d)
    original = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors.gz").write_bytes(gzip.compress(b"not the same bytes" * 1000))
    (d / "model.safetensors.part1").write_bytes(original[:1000])
    (d / "model.safetensors.part2").write_bytes(original[1000:])
    art = open_artifact(d)
    paths = {f.path for f in art.files}
    assert {
        "model.safetensors.gz.d/model.safetensors",
        "model.safetensors.part1.d/model.safetensors",
    } <= paths
    assert (d / "model.safetensors").read_bytes() == original
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [
            *(p.name for p in base.iterdir()),
            "model.safetensors.gz",
            "model.safetensors.part1",
            "model.safetensors.part2",
        ]
    )


def _wrapped_samples(tmp: Path) -> list[tuple[str, bytes]]:
    import io

    from tests.artifacts.builders import safetensors_bytes

    st = safetensors_bytes({"w": np.arange(64, dtype=np.float32).reshape(8, 8)})
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.safetensors", st)
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as t:
        info = tarfile.TarInfo("model.safetensors")
        info.size = len(st)
        t.addfile(info, io.BytesIO(st))
    return [
        ("model.safetensors.gz", gzip.compress(st)),
        ("model.safetensors.xz", lzma.compress(st)),
        ("m.zip", zbuf.getvalue()),
        ("m.tar.gz", tbuf.getvalue()),
    ]


def test_mutated_wrappers_read_or_raise_artifact_error(tmp_path):
    """Bit flips and cuts in wrappers: a clean read or an ArtifactError, nothing else."""
    rng = np.random.default_rng(14)
    for name, blob in _wrapped_samples(tmp_path):
        for trial in range(40):
            data = bytearray(blob)
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(0, len(data)))
                if rng.random() < 0.3:
                    del data[max(i, 1) :]
                else:
                    data[i] ^= 1 << int(rng.integers(0, 8))
            d = tmp_path / f"{name}-{trial}"
            d.mkdir()
            (d / name).write_bytes(bytes(data))
            try:
                art = open_artifact(d)
                for t in art.iter_tensors():
                    t.to_float32()
            except ArtifactError as exc:
                assert "\n" not in str(exc)


@pytest.mark.parametrize("qtype", ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16", "TQ2_0"])
def test_gguf_types_the_package_writes_read_back(tmp_path, qtype):
    """Every type ``gguf.quants`` can write here opens and dequantizes close to the input
    (K-quants and IQ types, which it only reads, are in test_quantized_layouts)."""
    import gguf

    kind = getattr(gguf.GGMLQuantizationType, qtype)
    x = np.random.default_rng(0).normal(0, 1, (8, 256)).astype(np.float32)
    p = tmp_path / f"{qtype}.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_tensor("blk.0.ffn_down.weight", gguf.quants.quantize(x, kind), raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (t,) = open_artifact(p).iter_tensors()
    assert t.shape == (8, 256)
    got = t.to_float32()
    tol = {"TQ2_0": 1.0, "Q4_0": 0.2, "Q4_1": 0.2}.get(qtype, 0.1)
    assert np.linalg.norm(got - x) / np.linalg.norm(x) < tol
