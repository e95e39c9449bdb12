"""Registry throughput and where the time goes.

Part 1: registrations per minute of small models (the tiny Llama family's members, each
under its own name), inline vs. Ray with 2 workers, on SQLite, in one run. Part 2: the
pipeline's time per step for a multi-GB model (a TinyLlama-1.1B-shaped BF16 folder,
~2.2 GB, random weights), run step by step on a warm cache.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lineage"))

from bench_throughput import write_model

from weightwatch.registry import Registry
from weightwatch.registry.pipeline import STEP_FUNCS, STEPS
from weightwatch.testing.family import build_family

ROUNDS = int(os.environ.get("WW_BENCH_REGISTRATIONS_ROUNDS", "2"))


def throughput(runner: str, members: list[Path], root: Path) -> tuple[int, float]:
    reg = Registry.open(root, f"sqlite:///{root}.db", init=True, runner=runner)
    jobs = [
        reg.submit(path, f"bench/{i:03d}-{path.name}") for i, path in enumerate(members * ROUNDS)
    ]
    t0 = time.perf_counter()
    states = reg.runner.run(jobs)
    elapsed = time.perf_counter() - t0
    assert states == ["done"] * len(jobs), states
    reg.close()
    return len(jobs), elapsed


def main() -> int:
    fam = build_family(arch="llama")
    members = [
        fam.base,
        fam.finetune,
        fam.lora_merged,
        fam.int8,
        fam.int4,
        fam.pruned,
        fam.merged,
        fam.independent,
        fam.permuted,
        fam.gguf_q8_0,
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        n, inline_s = throughput("inline", members, Path(tmp) / "inline")
        rows.append(("inline (one process)", n, inline_s))
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            n, ray_s = throughput("ray", members, Path(tmp) / "ray")
        finally:
            ray.shutdown()
        rows.append(("Ray, 2 workers (local)", n, ray_s))

        big = Path(tmp) / "big"
        big.mkdir()
        size = write_model(big)
        reg = Registry.open(Path(tmp) / "big-reg", f"sqlite:///{tmp}/big.db", init=True)
        reg.register(fam.base, "bench/base")  # an index with one model in it
        job = reg.submit(big, "bench/tinyllama-shaped")
        with reg.store.engine.connect() as conn:
            from sqlalchemy import select

            from weightwatch.registry import schema

            vid = conn.execute(
                select(schema.jobs.c.version_id).where(schema.jobs.c.id == job)
            ).scalar_one()
        timings = []
        for step in STEPS[:-1]:
            t0 = time.perf_counter()
            persist = STEP_FUNCS[step](reg.store, vid)
            with reg.store.write.begin() as conn:
                persist(conn)
            timings.append((step, time.perf_counter() - t0))
        reg.close()

    print("### Registry: registrations per minute, and a multi-GB model step by step\n")
    print(
        f"Small models: the {len(members)} tiny Llama family members (0.7 M parameters, ~3 MB "
        f"each, GGUF included), {ROUNDS} rounds under distinct names, SQLite, "
        f"{os.cpu_count()} cores. Every registration runs the whole pipeline (ingest, scan, "
        "identity, fingerprint, lineage search, policy, signing, log).\n"
    )
    print("| runner | registrations | seconds | per minute |")
    print("|---|---:|---:|---:|")
    for name, n, secs in rows:
        print(f"| {name} | {n} | {secs:.1f} | {60 * n / secs:.0f} |")
    total = sum(t for _, t in timings)
    print(
        f"\nA TinyLlama-1.1B-shaped BF16 folder of {size / 1e9:.2f} GB (random weights), each step "
        "as the pipeline runs it (computation, then its commit):\n"
    )
    print("| step | seconds | share |")
    print("|---|---:|---:|")
    for step, secs in timings:
        print(f"| {step} | {secs:.1f} | {secs / total:.0%} |")
    print(f"| **total** | {total:.1f} | |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
