"""Hostile structures found in review: each must be an ArtifactError naming the file (or a
recorded problem for a non-primary file), never a crash, a hang or an escape."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from tests.artifacts.builders import (
    legacy_torch_with_pickle,
    malicious_pickles,
    safetensors_bytes,
    torch_zip_with_pickle,
)
from weightwatch.artifacts import FileFormat, open_artifact
from weightwatch.errors import ArtifactError

REPO = Path(__file__).resolve().parents[2]
DEEP = b")" + b"\x85" * 200_000  # a tuple nested 200k deep (TUPLE1, no MARKs)


def _read_all(path: Path) -> None:
    art = open_artifact(path)
    for t in art.iter_tensors():
        t.to_float32()
    _ = art.totals


def _error(path: Path) -> str:
    with pytest.raises(ArtifactError) as info:
        _read_all(path)
    assert path.name in str(info.value)
    return str(info.value)


DEEP_BODIES = {
    "dict-key": b"\x80\x02}" + DEEP + b"Ns.",  # hashing a deep tuple overflows the C stack
    "frozenset": b"\x80\x04(" + DEEP + b"\x91.",
    "set": b"\x80\x04\x8f(" + DEEP + b"\x90.",
    "persid": b"\x80\x02" + DEEP + b"Q.",  # repr of a deep persistent id recurses
}


def test_deep_structures_in_a_subprocess(tmp_path):
    """In a child process: a regression here is a segfault, which must not kill the run."""
    files = []
    for name, body in DEEP_BODIES.items():
        for kind, blob in (
            ("zip", torch_zip_with_pickle(body)),
            ("legacy", legacy_torch_with_pickle(body)),
        ):
            p = tmp_path / f"deep-{name}-{kind}.pt"
            p.write_bytes(blob)
            files.append(str(p))
    code = (
        "import sys\n"
        "from weightwatch.artifacts import open_artifact\n"
        "from weightwatch.errors import ArtifactError\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        a = open_artifact(p); [t.data() for t in a.iter_tensors()]\n"
        "        print('OK', p, flush=True)\n"
        "    except ArtifactError as e:\n"
        "        print('ERR', e, flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    r = subprocess.run(
        [sys.executable, "-c", code, *files], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = r.stdout.splitlines()
    assert len(lines) == len(files) and all(line.startswith("ERR") for line in lines), r.stdout


def _zip(members: list[tuple[str, bytes]], **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members:
            zf.writestr(name, data, **kw)
    return buf.getvalue()


def _torch_members(state) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    torch.save(state, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    return [(n, z.read(n)) for n in z.namelist()]


def test_zip_encrypted_flag_duplicates_and_local_header_lies(tmp_path):
    members = _torch_members({"w": torch.ones(4)})
    data = bytearray(_zip(members))
    # set the "encrypted" bit in every central directory entry
    i = 0
    while (i := data.find(b"PK\x01\x02", i)) >= 0:
        data[i + 8] |= 1
        i += 4
    p = tmp_path / "enc.pt"
    p.write_bytes(bytes(data))
    assert "encrypted" in _error(p)
    dup = members + [(n, d) for n, d in members if n.endswith("data.pkl")]
    p = tmp_path / "dup.pt"
    with pytest.warns(UserWarning):
        p.write_bytes(_zip(dup))
    assert "duplicate" in _error(p)
    # a storage whose local header names another member (a zip differential)
    blob = bytearray(_zip(members))
    name = next(n for n, _ in members if "/data/" in n).encode()
    at = blob.find(b"PK\x03\x04" + blob[4:26], 0)
    local = blob.find(name, 0)
    assert at >= 0 and local >= 0
    blob[local + len(name) - 1 : local + len(name)] = b"9"
    p = tmp_path / "lie.pt"
    p.write_bytes(bytes(blob))
    assert "local header" in _error(p)


def test_compressed_storage_bounds(tmp_path):
    members = _torch_members({"w": torch.zeros(300_000)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in members:
            zf.writestr(n, d, compress_type=zipfile.ZIP_DEFLATED)
    ok = tmp_path / "ok.pt"
    ok.write_bytes(buf.getvalue())
    assert next(open_artifact(ok).iter_tensors()).data().sum() == 0
    from weightwatch.artifacts import torchfile

    old = torchfile.MAX_DEFLATE_RATIO
    try:
        torchfile.MAX_DEFLATE_RATIO = 10  # zeros compress ~1000:1: now a "bomb"
        assert "compressed storage" in _error(ok)
    finally:
        torchfile.MAX_DEFLATE_RATIO = old


def test_expanded_view_cannot_allocate_unbounded(tmp_path):
    """A stride-0 view of one element claiming 2**40 elements would make to_float32 allocate
    4 TiB; a small expansion (a broadcast bias) is still read."""
    t = torch.ones(1)
    small = t.expand(1000, 3)
    path = tmp_path / "ok.pt"
    torch.save({"b": small}, path)
    assert next(open_artifact(path).iter_tensors()).data().shape == (1000, 3)
    buf = io.BytesIO()
    torch.save({"b": torch.ones(1).expand(7, 11)}, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl_name = next(n for n in z.namelist() if n.endswith("data.pkl"))
    pkl = z.read(pkl_name)
    # rewrite the size tuple (7, 11) -> (2**20, 2**20): K 7 K 11 -> J 2**20 J 2**20
    patched = pkl.replace(
        b"K\x07K\x0b\x86",
        b"J" + struct.pack("<i", 2**20) * 1 + b"J" + struct.pack("<i", 2**20) + b"\x86",
    )
    assert patched != pkl
    members = [(n, patched if n == pkl_name else z.read(n)) for n in z.namelist()]
    bomb = tmp_path / "bomb.pt"
    bomb.write_bytes(_zip(members))
    assert "repeats storage elements" in _error(bomb)


def test_huge_npy_shape_does_not_overflow(tmp_path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64
    p = tmp_path / "big.npy"
    p.write_bytes(data)
    assert "truncated" in _error(p)


def test_npz_with_damaged_local_header(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(4.0))
    blob = bytearray((tmp_path / "a.npz").read_bytes())
    cd = blob.find(b"PK\x01\x02")
    struct.pack_into("<I", blob, cd + 42, len(blob) - 10)  # local header offset: near EOF
    p = tmp_path / "c.npz"
    p.write_bytes(bytes(blob))
    _error(p)


def test_safetensors_duplicate_keys_and_bad_metadata(tmp_path):
    raw = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
    p = tmp_path / "dup.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    assert "twice" in _error(p)
    for meta in ([], 0, ""):
        data = safetensors_bytes({}, header={"__metadata__": meta})
        p = tmp_path / "meta.safetensors"
        p.write_bytes(data)
        assert "__metadata__" in _error(p)


def test_symlinks_are_listed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 99}))
    save_file({"w": np.ones(2, np.float32)}, outside / "model-00002.safetensors")
    (outside / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "model-00002.safetensors"}})
    )
    (outside / "config.json").write_text(json.dumps({"model_type": "evil"}))
    repo = tmp_path / "repo"
    repo.mkdir()
    save_file({"v": np.ones(3, np.float32)}, repo / "model.safetensors")
    for name in ("adapter_config.json", "model.safetensors.index.json", "config.json"):
        (repo / name).symlink_to(outside / name)
    (repo / "linked_dir").symlink_to(outside)
    art = open_artifact(repo)
    formats = {f.path: f.format for f in art.files}
    assert formats["linked_dir"] is FileFormat.SYMLINK
    assert formats["config.json"] is FileFormat.SYMLINK
    assert not any(p.startswith("linked_dir/") for p in formats)
    assert art.adapter is None and art.config is None
    assert art.primary_files == ("model.safetensors",)
    assert [t.name for t in art.iter_tensors()] == ["v"]
    assert any("config.json" in p for p in art.problems)


def test_fifo_is_listed_without_blocking(tmp_path):
    save_file({"v": np.ones(3, np.float32)}, tmp_path / "model.safetensors")
    os.mkfifo(tmp_path / "pipe.bin")
    art = open_artifact(tmp_path)
    f = {f.path: f for f in art.files}["pipe.bin"]
    assert f.format is FileFormat.UNKNOWN and "regular" in f.detail


def test_hostile_side_file_is_a_problem_not_a_failure(tmp_path):
    marker = tmp_path / "pwned"
    payload = torch_zip_with_pickle(malicious_pickles(marker)["posix.system"])
    save_file({"w": np.ones(3, np.float32)}, tmp_path / "model.safetensors")
    (tmp_path / "training_args.bin").write_bytes(payload)
    art = open_artifact(tmp_path)
    assert art.primary_files == ("model.safetensors",)
    assert any("refused callable posix.system" in p for p in art.problems)
    with pytest.raises(ArtifactError, match="refused callable"):
        list(art.iter_tensors(file="training_args.bin"))
    # the same payload as the only weights is fatal at open
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(ArtifactError, match=r"pytorch_model\.bin.*refused callable posix\.system"):
        open_artifact(tmp_path)
    assert not marker.exists()


def test_index_must_match_its_shards(tmp_path):
    save_file({"x": np.ones(2, np.float32)}, tmp_path / "model-1.safetensors")
    save_file({"y": np.ones(2, np.float32)}, tmp_path / "model-2.safetensors")
    index = {"weight_map": {"x": "model-1.safetensors", "y": "model-1.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ArtifactError, match="lacks it"):
        open_artifact(tmp_path)


@pytest.mark.parametrize(
    "body, match",
    [
        # _rebuild_from_type_v2 may only wrap a tensor rebuild
        (
            b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ccollections\nOrderedDict\n"
            b"ctorch\nTensor\n)}tR.",
            "outside a plain tensor rebuild",
        ),
        # one storage key claimed with two dtypes
        (
            b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ"
            b"(X\x07\x00\x00\x00storagectorch\nLongStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ\x86.",
            "claimed as both",
        ),
        # an object other than a tensor rebuild: a dtype "called"
        (b"\x80\x02ctorch\nfloat32\n)R.", "was called"),
    ],
    ids=["from-type", "two-dtypes", "call-dtype"],
)
def test_allowlisted_names_misused(tmp_path, body, match):
    p = tmp_path / "x.pt"
    p.write_bytes(torch_zip_with_pickle(body))
    assert match in _error(p)


def test_long_names_are_bounded(tmp_path):
    long_key = "k" * 5000
    path = tmp_path / "long.pt"
    torch.save({long_key: {"w": torch.ones(1)}}, path)
    assert "longer than" in _error(path)
    # a long key above many tensors is fine when each name stays short enough
    state = {"m" * 1000: [torch.ones(1)] * 2000}
    torch.save(state, path)
    assert sum(1 for _ in open_artifact(path).iter_tensors()) == 2000


def test_pickle_bounds_hold_without_recursion(tmp_path):
    a: list = []
    for _ in range(100):
        a = [a]
    data = pickle.dumps({"x": a}, protocol=2)
    p = tmp_path / "nest.pt"
    p.write_bytes(torch_zip_with_pickle(data))
    assert "nests deeper" in _error(p)


def test_npy_header_with_unicode_separators(tmp_path):
    """Found by fuzzing: \\x1e is whitespace to a Unicode regex but not to int()."""
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (\x1e10,), }"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 40
    p = tmp_path / "sep.npy"
    p.write_bytes(data)
    assert "malformed .npy header" in _error(p)
