"""Extra cost of opening weights inside wrappers, and how far a bomb expands before refusal.

For the tiny Llama of the test family (2.6 MB) and a ~1 GB safetensors file of random
normal float32 (``WW_BENCH_WRAP_GB``, default 1), each wrapped copy is opened with
``open_artifact`` and every tensor read once (a checksum), in its own process so peak RSS
is its own; the extra cost is the time over opening the plain file in the same run.
Then gzip bombs of growing size are opened with the default limits: how many bytes were
unpacked before the refusal, and how long it took.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

GB = float(os.environ.get("WW_BENCH_WRAP_GB", "1"))
ROOT = Path(__file__).resolve().parents[2]

READ = """
import time, sys
t0 = time.perf_counter()
from weightwatch.artifacts import open_artifact
art = open_artifact(sys.argv[1])
s = 0.0
for t in art.iter_tensors():
    s += float(t.data()[:1].sum())
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]
print(time.perf_counter() - t0, int(hwm) / 1024, len(art.primary_files))
"""


def measure(path: Path, runs: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", READ, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        ).stdout.split()
        times.append(float(out[0]))
        peaks.append(float(out[1]))
    return statistics.median(times), max(peaks)


def stream_compress(src: Path, dest: Path, make: Callable[[Path], object]) -> None:
    with open(src, "rb") as f, make(dest) as g:  # type: ignore[attr-defined]
        shutil.copyfileobj(f, g, 1 << 22)


def wrap_all(model: Path, out: Path, *, big: bool) -> dict[str, Path]:
    """The model folder with its weights wrapped each way (metadata left as is)."""
    import lz4.frame
    import zstandard

    weights = model / "model.safetensors"

    def variant(name: str) -> Path:
        d = out / name
        shutil.copytree(model, d, ignore=shutil.ignore_patterns("model.safetensors"))
        return d

    made = {"plain": model}
    d = variant("gzip")
    stream_compress(weights, d / "model.safetensors.gz", lambda p: gzip.open(p, "wb", 1))  # noqa: SIM115
    made["gzip (level 1)"] = d
    d = variant("zstd")
    with open(weights, "rb") as f, open(d / "model.safetensors.zst", "wb") as g:
        zstandard.ZstdCompressor(level=3).copy_stream(f, g)
    made["zstd"] = d
    d = variant("lz4")
    stream_compress(weights, d / "model.safetensors.lz4", lambda p: lz4.frame.open(p, "wb"))
    made["lz4"] = d
    d = variant("tar")
    with tarfile.open(d / "model.tar", "w") as t:
        t.add(weights, "model.safetensors")
    made["tar"] = d
    d = variant("split")
    subprocess.run(
        ["split", "-b", "64m" if big else "500k", str(weights), str(d / "model.safetensors.")],
        check=True,
    )
    made["split into parts"] = d
    if not big:
        d = variant("xz-tar")
        with tarfile.open(d / "model.tar.xz", "w:xz") as t:
            t.add(weights, "model.safetensors")
        made["tar.xz"] = d
    return made


def big_model(dir: Path, gb: float) -> Path:
    d = dir / "big"
    d.mkdir()
    rows, cols = 4096, 4096
    n = max(1, int(gb * 2**30 // (rows * cols * 4)))
    rng = np.random.default_rng(0)
    block = rng.normal(0, 0.02, (rows, cols)).astype(np.float32)
    nbytes = rows * cols * 4
    header = {
        f"layer.{i}.weight": {
            "dtype": "F32",
            "shape": [rows, cols],
            "data_offsets": [i * nbytes, (i + 1) * nbytes],
        }
        for i in range(n)
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(d / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for i in range(n):
            f.write(np.roll(block, i, axis=0).tobytes())
    (d / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    return d


def table(title: str, made: dict[str, Path], runs: int) -> None:
    size = (made["plain"] / "model.safetensors").stat().st_size
    print(f"### Artifacts: opening wrapped weights, {title}\n")
    print(
        f"Weights: {size / 2**20:,.1f} MiB. Median of {runs} runs, each a fresh process "
        "(open, read one value of every tensor); extra = time over the plain folder.\n"
    )
    print("| wrapper | on disk (MiB) | open + read (s) | extra (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    base_t = None
    for name, d in made.items():
        on_disk = sum(
            f.stat().st_size
            for f in d.iterdir()
            if "safetensors" in f.name or f.suffix in (".tar", ".xz")
        )
        secs, peak = measure(d, runs)
        base_t = secs if base_t is None else base_t
        print(
            f"| {name} | {on_disk / 2**20:,.1f} | {secs:.2f} | {secs - base_t:+.2f} | {peak:.0f} |"
        )
    print()


def refusal(d: Path) -> tuple[str, int]:
    """(why, bytes unpacked when refused) from the ``ArtifactError`` the open raises."""
    import re

    from weightwatch.artifacts import open_artifact
    from weightwatch.errors import ArtifactError

    try:
        open_artifact(d)
    except ArtifactError as exc:
        numbers = [int(n) for n in re.findall(r"\d{4,}", str(exc))]
        return ("ratio (bomb)" if "bomb" in str(exc) else "member limit"), numbers[-1]
    return "NOT REFUSED", 0


def bombs(tmp: Path) -> None:
    from weightwatch.artifacts.limits import LIMITS

    print("### Artifacts: how far a compressed upload expands before it is refused\n")
    print(
        f"Default limits: {LIMITS.member / 2**30:.0f} GiB per stream or member, "
        f"{LIMITS.total / 2**30:.0f} GiB per artifact, {LIMITS.ratio}x expansion once past "
        "1 MiB, 4 wrappers deep. Gzip streams of zeros (about 1000x), and one of noise and "
        "zeros that stays under the ratio bound:\n"
    )
    print(
        "| upload (compressed) | would expand to | unpacked when refused | time (s) | refused by |"
    )
    print("|---:|---:|---:|---:|---|")
    # gzip allows concatenated members: one member of 16 MiB of zeros, repeated, is a bomb
    # of any size made in no time (every reader of .gz, ours included, reads them all)
    member = gzip.compress(b"\0" * (16 << 20), 9)
    for expands_gib in (1, 4, 64):
        d = tmp / f"bomb{expands_gib}"
        d.mkdir()
        n = expands_gib * 64
        (d / "model.safetensors.gz").write_bytes(member * n)
        packed = len(member) * n
        t0 = time.perf_counter()
        why, at = refusal(d)
        secs = time.perf_counter() - t0
        print(
            f"| {packed / 2**10:,.0f} KiB | {expands_gib} GiB | {at / 2**20:,.0f} MiB"
            f" | {secs:.2f} | {why} |"
        )
    # a stream under the ratio bound but past the member bound: 4 KiB of noise a MiB
    d = tmp / "bomb-member"
    d.mkdir()
    rng = np.random.default_rng(0)
    chunk = gzip.compress(rng.bytes(4096) + b"\0" * ((1 << 20) - 4096), 9)
    n = (LIMITS.member >> 20) + 64
    (d / "model.safetensors.gz").write_bytes(chunk * n)
    t0 = time.perf_counter()
    why, at = refusal(d)
    print(
        f"| {len(chunk) * n / 2**20:,.1f} MiB | {n / 1024:.2f} GiB | {at / 2**20:,.0f} MiB"
        f" | {time.perf_counter() - t0:.2f} | {why} |"
    )
    # real weights for comparison: how much the tiny model compresses
    print()


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from weightwatch.testing.family import build_family

    tiny = Path(build_family(cache=ROOT / ".cache" / "fixtures").base)
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp_s:
        tmp = Path(tmp_s)
        if os.environ.get("WW_BENCH_WRAP_ONLY") == "bombs":
            bombs(tmp)
            return
        (tmp / "tiny").mkdir()
        table("tiny Llama (0.66 M parameters)", wrap_all(tiny, tmp / "tiny", big=False), 5)
        big = big_model(tmp, GB)
        (tmp / "bigw").mkdir()
        table(f"{GB:g} GB of float32 weights", wrap_all(big, tmp / "bigw", big=True), 1)
        shutil.rmtree(tmp / "bigw")
        bombs(tmp)
        ratio = len(gzip.compress((tiny / "model.safetensors").read_bytes(), 6))
        size = (tiny / "model.safetensors").stat().st_size
        print(
            f"For scale: real weights compress little (the tiny model's safetensors: "
            f"{size / ratio:.2f}x with gzip -6; xz: "
            f"{size / len(lzma.compress((tiny / 'model.safetensors').read_bytes())):.2f}x), "
            f"so the {200}x ratio bound never refuses a real model."
        )


if __name__ == "__main__":
    main()
