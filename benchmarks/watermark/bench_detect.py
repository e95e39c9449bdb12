"""Watermark detection throughput (tokens/s, one core) at vocabulary 32k and 128k.

The native schemes (kgw, gumbel, tournament) hash (context, token) pairs with vectorised 64-bit
arithmetic, so their cost should not depend on the vocabulary; kgw-hf reproduces
transformers' torch.randperm green lists (one permutation per distinct seed) and is
expected to be slower and vocabulary-dependent.
"""

from __future__ import annotations

import os
import time
from functools import partial

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from weightwatch.watermark import MasterSecret, detect, get_scheme

N_NATIVE = 2_000_000
N_HF = 20_000


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    master = MasterSecret(bytes(range(32)))
    rng = np.random.default_rng(0)
    rows = []
    for vocab in (32_000, 128_000):
        # Zipf-like ids (natural text repeats tokens and pairs) and uniform ids
        zipf = np.minimum(rng.zipf(1.2, N_NATIVE), vocab) - 1
        uniform = rng.integers(0, vocab, N_NATIVE)
        for name, params in (
            ("kgw", {}),
            ("kgw", {"context_width": 4}),
            ("kgw", {"seeding": "selfhash", "context_width": 4}),
            ("gumbel", {}),
            ("tournament", {}),
        ):
            scheme = get_scheme(name, **params)
            key = master.derive("bench", scheme=name)
            label = name + "".join(f" {k}={v}" for k, v in params.items())
            for dist, ids in (("uniform", uniform), ("zipf", zipf)):
                t = _best(partial(detect, ids, scheme=scheme, keys=key))
                tw = _best(
                    partial(detect, ids, scheme=scheme, keys=key, windows=(32, 64, 128, 256, 512)),
                    1,
                )
                rows.append((label, vocab, dist, N_NATIVE / t, N_NATIVE / tw))
        if torch is not None:
            scheme = get_scheme("kgw-hf", vocab_size=vocab)
            key = master.derive("bench", scheme="kgw-hf")
            ids = uniform[:N_HF]
            t = _best(
                partial(detect, ids, scheme=get_scheme("kgw-hf", vocab_size=vocab), keys=key), 1
            )
            rows.append(("kgw-hf (cold cache)", vocab, "uniform", N_HF / t, float("nan")))
            t = _best(partial(detect, ids, scheme=scheme, keys=key), 1)
            t = _best(partial(detect, ids, scheme=scheme, keys=key), 2)
            rows.append(("kgw-hf (warm cache)", vocab, "uniform", N_HF / t, float("nan")))
    print("## Watermark detection throughput\n")
    print(
        f"One process, one thread; {N_NATIVE:,} tokens per native run, {N_HF:,} for kgw-hf; best of 3.\n"
    )
    print("| scheme | vocab | token ids | tokens/s | tokens/s with window search |")
    print("|---|---:|---|---:|---:|")
    for label, vocab, dist, tps, tpw in rows:
        w = "—" if tpw != tpw else f"{tpw:,.0f}"
        print(f"| {label} | {vocab:,} | {dist} | {tps:,.0f} | {w} |")
    print()


if __name__ == "__main__":
    main()
