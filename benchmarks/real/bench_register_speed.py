"""`register` and `fingerprint` against the disk (issue #18's speed goal), in one run.

Models: the real SmolLM2-135M-Instruct Q4_1 and Gemma 3 270M Q4_K_M GGUFs
(``make real-models``), SmolLM2 re-exported as Q8_0 (``testing.gguf_derive``: its
dequantized weights quantized by the ``gguf`` package), and Llama-shaped random
safetensors folders of about 1 GB in BF16 and in F32 (hidden 2048, MLP 5632, 32/4 heads,
vocabulary 32,000; 10 and 4 layers).

For each: ``cp FILES DIR && sync DIR/*`` cold (the durable copy a registry that keeps
its own copy cannot avoid: on a disk that writes slower than it reads, ingest's floor),
``cat FILES > /dev/null`` cold (every file evicted from the page cache with
``posix_fadvise(DONTNEED)`` first: the machine is shared, so dropping every cache is not
an option; the real GGUFs are copied first, because a page another process maps cannot
be evicted) and ``b3sum`` warm (the Debian binary, all threads; best of 3), then the
fingerprint warm (best of 2) and cold, and one cold ``Registry.register`` (SQLite, a
fresh registry, the pipeline's ``on_step`` timestamps). Wall and CPU seconds (CPU: this
process's threads, which a busy machine cannot inflate by making us wait). The load
average is printed: the machine is shared by several people.

``WW_BENCH_SRC`` points the imports at another source tree (e.g. a checkout of an older
commit) so a before/after pair can be measured in the same conditions.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.environ.get("WW_BENCH_SRC") or str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LLAMA = {"hidden": 2048, "ffn": 5632, "heads": 32, "kv": 4, "vocab": 32000}
# Llama 3 70B: the shape the extrapolation scales to
L70 = {"hidden": 8192, "ffn": 28672, "heads": 64, "kv": 8, "vocab": 128256, "layers": 80}
BYTES_PER_PARAM = {"Q4_1": 20 / 32, "Q4_K": 144 / 256, "Q8_0": 34 / 32, "BF16": 2.0, "F32": 4.0}


def layer_params(s: dict[str, int]) -> int:
    h, f = s["hidden"], s["ffn"]
    kvd = h // s["heads"] * s["kv"]
    return 2 * h * h + 2 * kvd * h + 3 * h * f


def write_llama(root: Path, layers: int, dtype: str) -> None:
    """A random Llama-shaped safetensors folder (``weightwatch.testing.synthetic_llama``)."""
    from weightwatch.testing.synthetic_llama import write_llama as write

    write(root, layers, dtype, LLAMA)


def private_copies(real: dict[str, Path], t: Path) -> dict[str, Path]:
    """The real models copied into ``t`` (once): a file another process keeps mapped (the
    shared real-model cache, under other people's tests) cannot be evicted, so "cold"
    would be warm."""
    out = {}
    for key, path in real.items():
        mine = t / path.name
        if not mine.exists():
            shutil.copyfile(path, t / "copy.tmp")
            (t / "copy.tmp").replace(mine)
        out[key] = mine
    return out


def files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def evict(path: Path) -> None:
    for p in files(path):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def wall(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def wall_cpu(fn: Callable[[], object]) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def cat(path: Path) -> None:
    subprocess.run(["cat", *map(str, files(path))], stdout=subprocess.DEVNULL, check=True)


def b3sum(path: Path) -> None:
    if shutil.which("b3sum"):
        subprocess.run(["b3sum", *map(str, files(path))], stdout=subprocess.DEVNULL, check=True)
    else:  # the same library, from Python (``make bench`` installs the binary)
        import blake3

        for p in files(path):
            blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(str(p))


def durable_copy(path: Path) -> float:
    """Wall seconds to ``cp`` the files (cold) into a scratch folder beside the registry's
    and ``sync`` them: the least a registry that keeps its own durable copy can take."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        evict(path)
        t = time.perf_counter()
        subprocess.run(["cp", *map(str, files(path)), tmp], check=True)
        subprocess.run(["sync", *map(str, Path(tmp).iterdir())], check=True)
        return time.perf_counter() - t


def disk_read() -> int:
    """Bytes this process has had read from storage (``/proc/self/io`` ``read_bytes``: page
    cache hits do not count), or -1 where the kernel does not say."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(name: str, kind: str, path: Path, params: int) -> dict[str, object]:
    from weightwatch.fingerprint import fingerprint
    from weightwatch.registry import Registry

    size = sum(p.stat().st_size for p in files(path))
    evict(path)
    cold = wall(lambda: cat(path))
    b3 = min(wall(lambda: b3sum(path)) for _ in range(3))
    copy = durable_copy(path)
    fp_warm = min((wall_cpu(lambda: fingerprint(path)) for _ in range(2)), key=lambda r: r[0])
    evict(path)
    fp_cold = wall(lambda: fingerprint(path))
    steps: list[tuple[str, float, float]] = []
    disk: list[int] = []

    def mark(step: str) -> None:
        steps.append((step, time.perf_counter(), time.process_time()))
        disk.append(disk_read())

    with tempfile.TemporaryDirectory(dir=os.environ.get("WW_BENCH_TMP")) as tmp:
        reg = Registry.open(Path(tmp) / "reg", init=True)
        evict(path)
        start = (time.perf_counter(), time.process_time())
        disk.append(disk_read())
        slug = "".join(c if c.isalnum() else "-" for c in name.lower())
        reg.register(path, f"bench/{slug}", on_step=mark)
        end = (time.perf_counter(), time.process_time())
        disk.append(disk_read())
        reg.close()
    marks = [("submit", *start), *steps, ("end", *end)]
    per = {a[0]: (b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)}
    read = {m[0]: b - a for m, (a, b) in zip(marks, itertools.pairwise(disk), strict=False)}
    return {
        "name": name,
        "kind": kind,
        "size": size,
        "params": params,
        "cat_cold": cold,
        "b3sum_warm": b3,
        "copy_cold": copy,
        "fp_warm": fp_warm,
        "fp_cold": fp_cold,
        "register": (end[0] - start[0], end[1] - start[1]),
        "steps": per,
        "disk_read": read,
    }


def main() -> None:
    from weightwatch.testing.gguf_derive import load as load_gguf
    from weightwatch.testing.gguf_derive import write as write_gguf
    from weightwatch.testing.real_models import fetch

    before = load()
    real = fetch(names=["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m"])
    smol_layers = layer_params({"hidden": 576, "ffn": 1536, "heads": 9, "kv": 3}) * 30
    gemma_layers = 18 * (2 * 640 * 1024 + 2 * 256 * 640 + 3 * 640 * 2048)
    rows = []
    with contextlib.ExitStack() as stack:
        keep = os.environ.get("WW_BENCH_MODELS")  # reuse the built models between runs
        t = Path(keep) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        real = private_copies(real, t)
        q8 = t / "smol-q8_0.gguf"
        if not q8.exists():
            src = load_gguf(real["smollm2-135m-instruct-q4_1"])
            write_gguf(src, t / "smol-q8_0.tmp", qtype="Q8_0").replace(q8)
        for folder, layers, dtype in (("bf16", 10, "BF16"), ("f32", 4, "F32")):
            if not (t / folder / "tokenizer.json").exists():
                (t / folder).mkdir(parents=True, exist_ok=True)
                write_llama(t / folder, layers, dtype)
        todo = [
            ("smollm2-135m Q4_1", "Q4_1", real["smollm2-135m-instruct-q4_1"], smol_layers),
            ("gemma-3-270m Q4_K_M", "Q4_K", real["gemma-3-270m-q4_k_m"], gemma_layers),
            ("smollm2-135m Q8_0", "Q8_0", q8, smol_layers),
            ("llama-shaped BF16, 10 layers", "BF16", t / "bf16", layer_params(LLAMA) * 10),
            ("llama-shaped F32, 4 layers", "F32", t / "f32", layer_params(LLAMA) * 4),
        ]
        only = os.environ.get("WW_BENCH_ONLY")  # e.g. "Q4_1,BF16"
        for name, kind, path, params in todo:
            if only and kind not in only.split(","):
                continue
            print(f"== {name}", file=sys.stderr, flush=True)
            rows.append(measure(name, kind, path, params))
    after = load()
    report(rows, before, after)


def report(rows: list[dict[str, object]], before: str, after: str) -> None:
    print("### Registration and fingerprint speed against the disk (issue #18)\n")
    print(
        f"One run, {os.cpu_count()} cores; load average (1/5/15 min) {before} at the start and "
        f"{after} at the end (the machine is shared: wall times include waiting for the CPU, "
        "CPU times do not). Cold = every file evicted from the page cache with "
        "`posix_fadvise(DONTNEED)` first; `b3sum` warm = best of 3; fingerprint warm = best "
        "of 2. GB/s are of the file's bytes.\n"
    )
    print(
        "| model | GB | cat cold (s) | b3sum warm (s) | cp + sync cold (s) | "
        "register wall / CPU (s, cold) | register / cat cold (wall, CPU) | "
        "register / b3sum warm (wall, CPU) | ingest / cp + sync (wall) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        size, cold, b3 = float(r["size"]), float(r["cat_cold"]), float(r["b3sum_warm"])  # type: ignore[arg-type]
        copy = float(r["copy_cold"])  # type: ignore[arg-type]
        rw, rc = r["register"]  # type: ignore[misc]
        ingest = r["steps"]["ingest"][0]  # type: ignore[index]
        print(
            f"| {r['name']} | {size / 1e9:.3f} | {cold:.2f} | {b3:.2f} | {copy:.2f} | "
            f"{rw:.1f} / {rc:.1f} | {rw / cold:.1f}x, {rc / cold:.1f}x | "
            f"{rw / b3:.0f}x, {rc / b3:.0f}x | {ingest / copy:.1f}x |"
        )
    steps = [s for s in rows[0]["steps"] if s not in ("submit",)]  # type: ignore[attr-defined]
    print("\n`register` per step, wall / CPU seconds (each step from its start to the next's):\n")
    print("| model | " + " | ".join(steps) + " |")
    print("|---|" + "---:|" * len(steps))
    for r in rows:
        per = r["steps"]
        cells = [f"{per[s][0]:.1f} / {per[s][1]:.1f}" if s in per else "-" for s in steps]  # type: ignore[index,operator]
        print(f"| {r['name']} | " + " | ".join(cells) + " |")
    print(
        "\n`register` per step, MB read from the disk (`/proc/self/io` `read_bytes`: what the "
        "page cache did not serve), and all steps' total as a multiple of the model's size:\n"
    )
    print("| model | " + " | ".join(steps) + " | total / size |")
    print("|---|" + "---:|" * (len(steps) + 1))
    for r in rows:
        got = r["disk_read"]
        cells = [f"{got[s] / 1e6:.0f}" if s in got else "-" for s in steps]  # type: ignore[index,operator]
        total = sum(got.values())  # type: ignore[attr-defined]
        print(
            f"| {r['name']} | " + " | ".join(cells) + f" | {total / float(r['size']):.2f}x |"  # type: ignore[arg-type]
        )
    print(
        "\nFingerprint throughput, GB of file per second, beside the cold read of the same "
        "file; the 70B column scales the warm CPU time linearly with the attention and MLP "
        "parameters (Llama 3 70B: 80 layers, hidden 8192, MLP 28,672; file size at the "
        "same bytes per weight) and divides by this machine's 2 cores:\n"
    )
    print(
        "| weights | fingerprint warm wall / CPU (s) | cold wall (s) | GB/s warm (wall) | "
        "GB/s cold (wall) | cold cat GB/s | fingerprint cold / cat cold | "
        "70B: file GB | 70B: fingerprint min (2 cores) | 70B: cat cold min |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    p70 = layer_params(L70) * L70["layers"]
    for r in rows:
        size, cold = float(r["size"]), float(r["cat_cold"])  # type: ignore[arg-type]
        fw, fc = r["fp_warm"]  # type: ignore[misc]
        fcold = float(r["fp_cold"])  # type: ignore[arg-type]
        kind = str(r["kind"])
        gb70 = (p70 + 2 * L70["vocab"] * L70["hidden"]) * BYTES_PER_PARAM[kind] / 1e9
        fp70 = fc * p70 / float(r["params"]) / (os.cpu_count() or 1)  # type: ignore[arg-type]
        cat70 = gb70 * 1e9 / (size / cold)
        print(
            f"| {r['name']} ({kind}) | {fw:.2f} / {fc:.2f} | {fcold:.2f} | {size / 1e9 / fw:.2f} | "
            f"{size / 1e9 / fcold:.2f} | {size / 1e9 / cold:.2f} | {fcold / cold:.1f}x | "
            f"{gb70:.0f} | {fp70 / 60:.1f} | {cat70 / 60:.1f} |"
        )


if __name__ == "__main__":
    main()
