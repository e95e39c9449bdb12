"""Fingerprint cost against lineage power (issue #18): where the time goes, and what a
cheaper ("sketched") fingerprint would buy and cost.

Two parts (``WW_SKETCH_PART=speed|power|all``, default all; ``zoo`` or ``real`` runs one
half of the power part):

- **speed**: for the real SmolLM2-135M Q4_1 and Gemma 3 270M Q4_K_M GGUFs
  (``make real-models``), SmolLM2 re-exported as Q8_0, and a random Llama-shaped BF16
  folder (hidden 2048, MLP 5632, 4 layers, 0.61 GB): a cold ``cat`` (pages evicted with
  ``posix_fadvise(DONTNEED)``; the GGUFs are private copies, since a page another process
  maps cannot be evicted), then a single-thread split of one fingerprint (open + layout,
  vocabulary + anchor rows, dequantization, the anchor products, MLP-unit picks, the
  units' eigenbasis, facts), then whole fingerprints (two threads, as shipped) warm (best
  of 2) and cold, with the layer products over the first ``k`` anchors of an evenly
  spaced subset — the cost of a ``k``-anchor sketch (a random projection of the anchors
  to ``k`` rows costs the same products).
- **power**: lineage on the tiny-model zoo (``testing.lineage_zoo``, seeds
  ``WW_SKETCH_SEEDS``, default 0-3: 4 bases x 19 derivatives, every evasion of the issue)
  and on the real models (SmolLM2's Q8_0/Q4_0 re-exports, a perturbed stand-in for a
  fine-tune, an MLP-permuted and a 30%-pruned copy; Gemma 3 and all-MiniLM-L6-v2 as
  unrelated models). Each sketch is computed *exactly* from the full fingerprints: a
  ``k``-anchor fingerprint's matrices are the full ones' ``k x k`` sub-blocks
  (``X_S A X_Sᵀ``), and a projected one's are ``R (X A Xᵀ) Rᵀ`` for a fixed Gaussian
  ``R`` (``k x 95``), so no model is re-read. Reported: ROC AUC of the score and of the
  verdict's p-value, derivatives missed and unrelated pairs called derived at 1e-3 (with
  the shipped null, fitted at 95 anchors), and the real-model verdicts.

Figures go to ``docs/benchmarks.md`` ("Fingerprint cost against lineage power").
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks" / "real"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

KS = (95, 64, 48, 32, 24, 16)
SPEED_KS = (95, 48, 32, 24, 16)
ALPHA = 1e-3


# -- sketches ------------------------------------------------------------------------
def subset(k: int) -> tuple[bytes, ...]:
    """``k`` anchors evenly spaced over the printable-ASCII anchor order."""
    from weightwatch.fingerprint.vocab import ANCHORS

    idx = np.unique(np.round(np.linspace(0, len(ANCHORS) - 1, k)).astype(int))
    return tuple(ANCHORS[i] for i in idx)


def sub_sketch(fp: Any, k: int) -> Any:
    """The fingerprint a ``k``-anchor compute would give: the full one's sub-blocks."""
    keep = set(subset(k))
    idx = np.array([i for i, a in enumerate(fp.anchors) if a in keep], dtype=np.int64)
    sub = np.ix_(idx, idx)
    return replace(
        fp,
        anchors=tuple(fp.anchors[i] for i in idx),
        emb=fp.emb[sub],
        layers={kind: m[:, idx][:, :, idx] for kind, m in fp.layers.items()},
        cache={},
    )


def proj_sketch(fp: Any, k: int) -> Any | None:
    """``R (X A Xᵀ) Rᵀ`` for a fixed Gaussian R: k mixed anchors (needs all 95)."""
    from weightwatch.fingerprint.vocab import ANCHORS

    if fp.anchors != ANCHORS:
        return None
    r = np.random.default_rng(0x5CE7C4).standard_normal((k, len(ANCHORS))) / np.sqrt(k)
    r = r.astype(np.float32)
    f16 = lambda m: m.astype(np.float16).astype(np.float32)  # noqa: E731 (stored as float16)
    return replace(
        fp,
        anchors=tuple(f"p{i}".encode() for i in range(k)),
        emb=(r @ fp.emb @ r.T).astype(np.float32),
        layers={kind: f16(np.einsum("ka,lab,jb->lkj", r, m, r)) for kind, m in fp.layers.items()},
        cache={},
    )


@contextlib.contextmanager
def min_shared(k: int) -> Iterator[None]:
    """``compare`` refuses fewer than 32 shared anchors; a 16/24-anchor sketch lowers it."""
    from weightwatch.lineage import relation

    old = relation.MIN_SHARED
    relation.MIN_SHARED = min(old, k)
    try:
        yield
    finally:
        relation.MIN_SHARED = old


# -- speed ---------------------------------------------------------------------------
from bench_register_speed import evict, files, private_copies  # noqa: E402 (benchmarks/real on the path)


def clock(fn: Callable[[], object]) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


@contextlib.contextmanager
def anchors_limited(k: int) -> Iterator[None]:
    """Fingerprints computed over the ``k``-anchor subset only (the sketch's cost)."""
    from weightwatch.fingerprint import compute

    keep, old_ids, old_min = set(subset(k)), compute.anchor_ids, compute.MIN_ANCHORS

    def ids(vocab: Any, n: int) -> dict[bytes, int]:
        return {a: i for a, i in old_ids(vocab, n).items() if a in keep}

    compute.anchor_ids, compute.MIN_ANCHORS = ids, min(old_min, k)
    try:
        yield
    finally:
        compute.anchor_ids, compute.MIN_ANCHORS = old_ids, old_min


def split(path: Path) -> dict[str, float]:
    """CPU seconds of each part of one fingerprint, on one thread."""
    from threadpoolctl import threadpool_limits

    from weightwatch.artifacts import open_artifact
    from weightwatch.artifacts.dequant import row_chunks
    from weightwatch.fingerprint import compute
    from weightwatch.fingerprint.layout import layout_of
    from weightwatch.fingerprint.units import (
        canonical_units,
        has_units,
        layer_units,
        unit_layers,
        unit_parts,
    )
    from weightwatch.fingerprint.vocab import ANCHORS, anchor_ids

    out: dict[str, float] = {}

    def part(name: str, fn: Callable[[], Any]) -> Any:
        c = time.process_time()
        r = fn()
        out[name] = out.get(name, 0.0) + time.process_time() - c
        return r

    with threadpool_limits(limits=1, user_api="blas"):
        art = part("open + layout", lambda: open_artifact(path))
        lay = part("open + layout", lambda: layout_of(art))

        def anchor_rows() -> Any:
            e = lay.embeddings()
            ids = anchor_ids(art.tokenizer.vocab, int(e.shape[0]))
            return compute._unit(compute._rows(e, [ids[a] for a in ANCHORS if a in ids]))

        unit = part("vocabulary + anchors", anchor_rows)
        emb = ("model.embed_tokens.weight", "lm_head.weight", "wte.weight")
        mats = [n for n, t in lay.tensors.items() if len(t.shape) == 2 and n not in emb]

        def read_all() -> int:
            n = 0
            for name in mats:
                for _, w in row_chunks(lay.tensors[name]):
                    n += w.size
            return n

        params = part("dequantize", read_all)
        c = time.process_time()
        for i in range(lay.n_layers):
            compute._layer(lay, i, unit)
        out["products"] = time.process_time() - c - out["dequantize"]
        if has_units(lay):
            kept = unit_layers(lay.n_layers)
            pre = {}
            for i in kept:
                pre[i] = {
                    p: np.concatenate([w for _, w in row_chunks(lay.layer(i, p))])
                    for p in unit_parts(lay)
                }
            picks = part("unit picks", lambda: [layer_units(lay, i, pre[i]) for i in kept])
            part("units eigenbasis", lambda: canonical_units(picks))
        part("facts", lambda: compute._info(art, lay, lay.embeddings().dtype))
    out["params"] = float(params)
    return out


def speed(models: dict[str, Path]) -> None:
    from weightwatch.fingerprint import fingerprint

    print(f"load average at start: {load()}", file=sys.stderr)
    rows = []
    for name, path in models.items():
        print(f"== {name}", file=sys.stderr, flush=True)
        gb = sum(p.stat().st_size for p in files(path)) / 1e9
        evict(path)
        cat = clock(
            lambda path=path: subprocess.run(
                ["cat", *map(str, files(path))], stdout=subprocess.DEVNULL, check=True
            )
        )[0]
        parts = split(path)
        per_k = {}
        for k in SPEED_KS:
            with anchors_limited(k):
                fingerprint(path)
                warm = min(clock(lambda path=path: fingerprint(path)) for _ in range(2))
                evict(path)
                cold = clock(lambda path=path: fingerprint(path))
            per_k[k] = (warm, cold)
        rows.append((name, gb, cat, parts, per_k))
    print(f"load average at end: {load()}", file=sys.stderr)
    report_speed(rows)


def report_speed(rows: list[Any]) -> None:
    keys = [
        "open + layout",
        "vocabulary + anchors",
        "dequantize",
        "products",
        "unit picks",
        "units eigenbasis",
        "facts",
    ]
    print("| weights | M params read | " + " | ".join(keys) + " | sum |")
    print("|---|---:|" + "---:|" * (len(keys) + 1))
    for name, _gb, _cat, parts, _ in rows:
        tot = sum(parts.get(k, 0.0) for k in keys)
        cells = " | ".join(
            f"{parts.get(k, 0.0):.2f} ({100 * parts.get(k, 0.0) / tot:.0f}%)" for k in keys
        )
        print(f"| {name} | {parts['params'] / 1e6:.0f} | {cells} | {tot:.2f} |")
    print()
    print(
        "| weights | GB | cat cold GB/s | anchors | warm wall / CPU (s) | cold wall / CPU (s) "
        "| GB/s warm | GB/s cold | cold / cat cold |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, gb, cat, _, per_k in rows:
        for k, ((ww, wc), (cw, cc)) in per_k.items():
            print(
                f"| {name} | {gb:.3f} | {gb / cat:.2f} | {k} | {ww:.2f} / {wc:.2f} | "
                f"{cw:.2f} / {cc:.2f} | {gb / ww:.2f} | {gb / cw:.2f} | {cw / cat:.1f}x |"
            )


# -- power ---------------------------------------------------------------------------
def auc(pos: list[float], neg: list[float]) -> float:
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def sketches(fp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"full (95)": fp}
    for k in KS[1:]:
        out[f"subset {k}"] = sub_sketch(fp, k)
        out[f"projected {k}"] = proj_sketch(fp, k)
    return out


class Pair:
    """One (parent, child) pair: the shared-units test once (no sketch changes it), then
    each sketch's anchor test, combined as ``compare``'s default ``both`` does."""

    def __init__(self, parent: dict[str, Any], child: dict[str, Any], *, blocks: bool) -> None:
        from weightwatch.lineage import compare

        self.parent, self.child = parent, child
        full = "full (95)"
        self.blocks = compare(parent[full], child[full], test="blocks").blocks if blocks else None

    def test(self, name: str) -> tuple[float, float, float] | None:
        """(score, fitted log10 p, verdict log10 p) of sketch ``name``."""
        from weightwatch.lineage import compare
        from weightwatch.lineage.pvalue import log10_adjusted

        a, b = self.parent[name], self.child[name]
        if a is None or b is None:
            return None
        k = 95 if name.startswith("full") else int(name.split()[-1])
        with min_shared(k):
            c = compare(a, b, test="fitted")
        fitted = c.log10_p_fitted if c.log10_p_fitted is not None else 0.0
        ran = [fitted] + ([self.blocks.log10_p] if self.blocks is not None else [])
        return c.score, fitted, log10_adjusted(min(ran), len(ran))


def power_zoo(seeds: tuple[int, ...]) -> None:
    from weightwatch.fingerprint import fingerprint
    from weightwatch.testing.lineage_zoo import build_zoo

    zoo = build_zoo(seeds)
    fps = [sketches(fingerprint(m.path)) for m in zoo]
    bases = [i for i, m in enumerate(zoo) if m.transform == "base"]
    # The anchor test alone: the block test does not change with the sketch, and costs
    # ~6 CPU s a pair on the tiny models (316 pairs), so the verdict columns here are the
    # anchor test's (a verdict misses only what both tests miss).
    print(
        f"Tiny zoo: {len(bases)} bases, {len(zoo)} models; pairs (base, other model); "
        f"alpha {ALPHA}, shipped null; anchor test only.\n"
    )
    pairs = [
        (Pair(fps[b], fps[j], blocks=False), kb in m.parents, m.transform)
        for kb, b in enumerate(bases)
        for j, m in enumerate(zoo)
        if j != b
    ]
    print(
        "| sketch | product FLOP / param | AUC score | AUC p | derivatives missed | "
        "unrelated called derived | lowest derivative score | highest unrelated score |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    lim = np.log10(ALPHA)
    for name in fps[0]:
        k = 95 if name.startswith("full") else int(name.split()[-1])
        got = [(pair.test(name), derived, t) for pair, derived, t in pairs]
        pos = [r for r, d, _ in got if r is not None and d]
        neg = [r for r, d, _ in got if r is not None and not d]
        missed = sorted({t for r, d, t in got if r is not None and d and r[1] > lim})
        print(
            f"| {name} | {2 * k} | {auc([r[0] for r in pos], [r[0] for r in neg]):.4f} | "
            f"{auc([-r[1] for r in pos], [-r[1] for r in neg]):.4f} | "
            f"{sum(r[1] > lim for r in pos)}/{len(pos)}"
            f"{' (' + ', '.join(missed) + ')' if missed else ''} | "
            f"{sum(r[1] <= lim for r in neg)}/{len(neg)} | {min(r[0] for r in pos):.3f} | "
            f"{max(r[0] for r in neg):.3f} |",
            flush=True,
        )


def power_real(root: Path) -> None:
    from weightwatch.fingerprint import fingerprint
    from weightwatch.testing import gguf_derive
    from weightwatch.testing.real_models import fetch

    real = fetch(names=["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m", "all-minilm-l6-v2"])
    smol = real["smollm2-135m-instruct-q4_1"]
    src = gguf_derive.load(smol)
    made = {
        "Q8_0 re-export": ("q8_0.gguf", {"qtype": "Q8_0"}),
        "Q4_0 re-export": ("q4_0.gguf", {"qtype": "Q4_0"}),
        "perturbed 0.3 (fine-tune stand-in)": ("perturbed.gguf", {}),
        "MLP-permuted": ("permuted.gguf", {}),
        "30% pruned": ("pruned.gguf", {}),
    }
    edits = {
        "perturbed 0.3 (fine-tune stand-in)": gguf_derive.perturb(0.3, seed=1),
        "MLP-permuted": gguf_derive.permute_mlp(2),
        "30% pruned": gguf_derive.prune(0.3),
    }
    children = {}
    for name, (fname, kw) in made.items():
        p = root / fname
        if not p.exists():
            args = (edits[name],) if name in edits else ()
            gguf_derive.write(src, p, *args, **kw)
        children[name] = fingerprint(p)
    parent, gemma = fingerprint(smol), fingerprint(real["gemma-3-270m-q4_k_m"])
    minilm = fingerprint(real["all-minilm-l6-v2"])
    fam = {"SmolLM2": sketches(parent), "Gemma 3": sketches(gemma), "MiniLM": sketches(minilm)}
    kids = {n: sketches(f) for n, f in children.items()}
    print(
        "\nReal models: log10 p of the anchor test (fitted null) / of the verdict (both "
        "tests, Bonferroni); derived at <= -3.\n"
    )
    named = [(f"SmolLM2 -> {n}", fam["SmolLM2"], kid, True) for n, kid in kids.items()]
    named += [
        ("SmolLM2 vs Gemma", fam["SmolLM2"], fam["Gemma 3"], False),
        ("SmolLM2 vs MiniLM", fam["SmolLM2"], fam["MiniLM"], False),
        ("Gemma vs MiniLM", fam["Gemma 3"], fam["MiniLM"], False),
    ]
    named += [(f"Gemma -> {n}", fam["Gemma 3"], kid, False) for n, kid in kids.items()]
    pairs = [(label, Pair(a, b, blocks=True), derived) for label, a, b, derived in named]
    print("| sketch | " + " | ".join(label for label, _, _ in pairs) + " | verdicts right |")
    print("|---|" + "---:|" * (len(pairs) + 1))
    for name in fam["SmolLM2"]:
        cells, right, total = [], 0, 0
        for _, pair, derived in pairs:
            r = pair.test(name)
            if r is None:
                cells.append("n/a")
                continue
            cells.append(f"{r[1]:.1f} / {r[2]:.1f}")
            total += 1
            right += (r[2] <= np.log10(ALPHA)) == derived
        print(f"| {name} | " + " | ".join(cells) + f" | {right}/{total} |", flush=True)


def main() -> int:
    part = os.environ.get("WW_SKETCH_PART", "all")
    with contextlib.ExitStack() as stack:
        keep = os.environ.get("WW_BENCH_MODELS")  # reuse the built models between runs
        t = Path(keep) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        t.mkdir(parents=True, exist_ok=True)
        if part in ("speed", "all"):
            speed(models(t))
        if part in ("power", "zoo", "all"):
            seeds = tuple(int(s) for s in os.environ.get("WW_SKETCH_SEEDS", "0,1,2,3").split(","))
            power_zoo(seeds)
        if part in ("power", "real", "all"):
            power_real(t)
    return 0


def models(t: Path) -> dict[str, Path]:
    from weightwatch.testing.gguf_derive import load as load_gguf
    from weightwatch.testing.gguf_derive import write as write_gguf
    from weightwatch.testing.real_models import fetch

    real = private_copies(fetch(names=["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m"]), t)
    q8 = t / "smol-q8_0.gguf"
    if not q8.exists():
        write_gguf(load_gguf(real["smollm2-135m-instruct-q4_1"]), t / "q8.tmp", qtype="Q8_0")
        (t / "q8.tmp").replace(q8)
    bf16 = t / "bf16-4-layers"
    if not (bf16 / "tokenizer.json").exists():
        from weightwatch.testing.synthetic_llama import write_llama

        write_llama(bf16, 4, "BF16")
    return {
        "SmolLM2-135M Q4_1": real["smollm2-135m-instruct-q4_1"],
        "Gemma 3 270M Q4_K_M": real["gemma-3-270m-q4_k_m"],
        "SmolLM2-135M Q8_0": q8,
        "Llama-shaped BF16, 4 layers": bf16,
    }


if __name__ == "__main__":
    sys.exit(main())
