"""Where `register` spends its time on the real GGUFs (issue #18), beside the disk.

For SmolLM2-135M-Instruct Q4_1 and Gemma 3 270M Q4_K_M (``make real-models``): the file
read cold (``cat FILE > /dev/null`` after evicting it from the page cache with
``posix_fadvise(DONTNEED)``) and warm, SHA-256 and BLAKE3 warm (the ``blake3`` package,
b3sum's library; the ``b3sum`` binary is not installed here), the GGUF header parse, the
fingerprint alone, and one cold ``Registry.register`` split by pipeline step (the
``on_step`` hook's timestamps; ``decide`` includes signing and the log append).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cpu(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU of this process's threads) seconds: CPU is what a shared machine
    cannot inflate by making us wait."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def cat(path: Path) -> None:
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


def sha256(path: Path) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 22):
            h.update(b)


def b3(path: Path) -> None:
    import blake3

    blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(str(path)).hexdigest()


def main() -> None:
    from weightwatch.artifacts.gguf import read_gguf
    from weightwatch.fingerprint import fingerprint
    from weightwatch.registry import Registry
    from weightwatch.testing.real_models import fetch

    models = fetch(names=["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m"])
    rows = []
    for name, path in models.items():
        size = path.stat().st_size
        evict(path)
        cold = timed(lambda p=path: cat(p))
        warm = timed(lambda p=path: cat(p))
        sha = timed(lambda p=path: sha256(p))
        blake = timed(lambda p=path: b3(p))
        header = timed(lambda p=path: read_gguf(p))
        fpt, fp_cpu = cpu(lambda p=path: fingerprint(p))
        steps: list[tuple[str, float, float]] = []

        def mark(step: str, steps: list[tuple[str, float, float]] = steps) -> None:
            steps.append((step, time.perf_counter(), time.process_time()))

        with tempfile.TemporaryDirectory() as tmp:
            reg = Registry.open(Path(tmp) / "reg", init=True)
            evict(path)
            start = (time.perf_counter(), time.process_time())
            reg.register(
                path,
                f"bench/{name}",
                on_step=mark,
            )
            end = (time.perf_counter(), time.process_time())
            reg.close()
        marks = [("submit", *start), *steps, ("end", *end)]
        per = {a[0]: (b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)}
        reg_s, reg_cpu = end[0] - start[0], end[1] - start[1]
        rows.append((name, size, cold, warm, sha, blake, header, fpt, fp_cpu, reg_s, reg_cpu, per))

    print("### Real GGUFs: `register` step by step, beside the disk\n")
    print(
        "Seconds for one run each (the machine was shared with other test runs, so the "
        "ratios are the figures to read). Cold = after evicting the file from the page "
        "cache; `b3sum` here is the `blake3` package (multithreaded, memory-mapped).\n"
    )
    print(
        "| model | file (MB) | cat cold | cat warm | SHA-256 warm | BLAKE3 warm | "
        "GGUF header | fingerprint wall / CPU | fingerprint MB/s (CPU) | "
        "register wall / CPU (cold) | register CPU / cat cold | register CPU / BLAKE3 warm |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, cold, warm, sha, blake, header, fpt, fp_cpu, reg_s, reg_cpu, _ in rows:
        print(
            f"| {name} | {size / 1e6:.1f} | {cold:.2f} | {warm:.2f} | {sha:.2f} | "
            f"{blake:.2f} | {header:.2f} | {fpt:.1f} / {fp_cpu:.1f} | "
            f"{size / 1e6 / fp_cpu:.1f} | {reg_s:.1f} / {reg_cpu:.1f} | "
            f"{reg_cpu / cold:.0f}x | {reg_cpu / blake:.0f}x |"
        )
    steps_seen = [s for s in rows[0][-1] if s not in ("submit", "done")]
    print(
        "\nPer pipeline step, wall / CPU seconds (each step from its start to the next's; "
        "ingest = copy into the store + SHA-256 of every file; decide = policy, signing, "
        "log append):\n"
    )
    print("| model | " + " | ".join(steps_seen) + " |")
    print("|---|" + "---:|" * len(steps_seen))
    for row in rows:
        per = row[-1]
        cells = [f"{per[s][0]:.1f} / {per[s][1]:.1f}" if s in per else "-" for s in steps_seen]
        print(f"| {row[0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
