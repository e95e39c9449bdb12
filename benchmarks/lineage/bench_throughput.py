"""Fingerprinting a multi-GB model folder: seconds and bytes read, cold and warm.

A TinyLlama-1.1B-shaped folder (22 layers, hidden 2048, MLP 5632, 32 heads / 4 KV
heads, vocabulary 32,000, BF16 safetensors, ~2.2 GB) with random weights is written,
evicted from the page cache, then fingerprinted. Bytes read come from
``/proc/self/io`` (``read_bytes``: what the process pulled from the disk, mmap page-ins
included). A fingerprint needs the anchor rows of the embedding and every attention and
MLP matrix, not the output head.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from weightwatch.fingerprint import fingerprint

SHAPE = {"hidden": 2048, "ffn": 5632, "layers": 22, "heads": 32, "kv": 4, "vocab": 32000}


def write_model(root: Path) -> int:
    """A 1.1 B-parameter random Llama in BF16 (``weightwatch.testing.synthetic_llama``)."""
    from weightwatch.testing.synthetic_llama import write_llama

    shape = {k: v for k, v in SHAPE.items() if k != "layers"}
    return write_llama(root, SHAPE["layers"], "BF16", shape)


def read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def evict(root: Path) -> None:
    for p in root.iterdir():
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> int:
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        root = Path(tmp)
        total = write_model(root)
        evict(root)
        r0, t0 = read_bytes(), time.perf_counter()
        fp = fingerprint(root)
        cold, got = time.perf_counter() - t0, read_bytes() - r0
        t0 = time.perf_counter()
        fingerprint(root)
        warm = time.perf_counter() - t0
    assert fp.n_layers == SHAPE["layers"]
    print("### Lineage: fingerprinting throughput\n")
    print(
        f"A TinyLlama-1.1B-shaped BF16 folder of {total / 1e9:.2f} GB (random weights), "
        f"{os.cpu_count()} cores. Bytes read are what the process pulled from the disk.\n"
    )
    print("| folder (GB) | cold (s) | warm (s) | read from disk (GB) | share of the folder |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {total / 1e9:.2f} | {cold:.1f} | {warm:.1f} | {got / 1e9:.2f} | {got / total:.0%} |")
    scale = 70e9 / 1.1e9
    print(
        f"\nScaled linearly by parameters (reads and matrix products both grow with them), a 70B "
        f"model would take about {cold * scale / 60:.0f} minutes cold on this machine.\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
