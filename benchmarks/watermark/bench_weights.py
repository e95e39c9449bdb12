"""GaussMark cost: embedding for a 1B-shaped model, detection per 200-token text (one core).

Embedding costs one keyed Gaussian draw and one add per marked weight. The 1B shape is
Llama-3.2-1B's output matrix (vocabulary 128,256 x hidden 2,048, 263 M weights, tied to
the input embedding); it is timed on a 1/8 row slice and scaled by 8 (the work is
linear in the number of weights), to stay within this machine's memory. Detection
needs one forward and backward pass of the model on the text (timed on the tiny Llama,
the only model here) plus one dot product per key, timed at the 1B shape on the same
slice; the sampling-time KGW detector is timed on the same 200 tokens.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from weightwatch.testing import build_family
from weightwatch.watermark import MasterSecret, detect, get_scheme, get_weight_scheme
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.weightio import load_reference, log_likelihood_gradient

ROWS, HIDDEN, SLICE = 128_256, 2_048, 8


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    scheme = get_weight_scheme("gaussmark")
    assert isinstance(scheme, GaussMark)
    key = MasterSecret(bytes(range(32))).derive("bench", scheme="gaussmark")
    shape = (ROWS // SLICE, HIDDEN)
    w = np.random.default_rng(0).normal(0.0, 0.02, size=shape).astype(np.float32)

    def embed_slice() -> None:
        rms = float(np.sqrt(np.mean(np.square(w, dtype=np.float64))))
        noise, _ = scheme.perturbation(key, "lm_head.weight", shape, rms)
        np.add(w, noise, out=noise)

    t_embed = best(embed_slice) * SLICE
    grad = {"lm_head.weight": w}
    t_key = best(lambda: scheme.statistics([grad], {"lm_head.weight": 0.01}, [key])) * SLICE

    fam = build_family(arch="llama")
    ref = load_reference(fam.base, scheme=scheme)
    ids = np.random.default_rng(1).integers(5, 1000, 200).tolist()
    t_grad = best(lambda: log_likelihood_gradient(ref, ids), repeat=5)
    t_stat = best(lambda: scheme.statistics([log_likelihood_gradient(ref, ids)], ref.stds, [key]))
    kgw, kgw_key = get_scheme("kgw"), MasterSecret(bytes(32)).derive("b", scheme="kgw")
    t_kgw = best(lambda: detect(ids, scheme=kgw, keys=kgw_key), repeat=5)
    print("### GaussMark (weight watermark): embedding and detection cost, one core\n")
    print("| what | time | note |")
    print("|---|---|---|")
    print(
        f"| embed, 1B-shaped output matrix (263 M weights) | {t_embed:.1f} s | 1/8 slice "
        f"x 8; plus reading and writing the safetensors files |"
    )
    print(
        f"| score one more key, 1B-shaped matrix | {t_key:.1f} s | per key (recipient); "
        "given the text's gradient |"
    )
    print(
        f"| detect one 200-token text, tiny Llama (0.7 M) | {t_stat * 1e3:.0f} ms | "
        f"gradient {t_grad * 1e3:.0f} ms + one key |"
    )
    print(
        f"| KGW detect, same 200 tokens (sampling-time) | {t_kgw * 1e3:.2f} ms | "
        f"GaussMark/KGW = {t_stat / t_kgw:.0f}x |"
    )
    print(
        "\nNot measured: a 1B model's gradient on 200 tokens (no such model on this "
        "machine). It is one forward and one backward pass, about 6 x 1.2e9 x 200 = "
        "1.5e12 floating-point operations (estimate, not a timing).\n"
    )


if __name__ == "__main__":
    main()
