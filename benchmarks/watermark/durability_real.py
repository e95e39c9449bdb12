"""The weight marks' durability table on a real model (``make watermark-durability-real``).

WW_REAL_SCHEME picks the mark: ``gaussmark`` (default; below) or ``distill``, the
distillation mark trained through the product's own ``embed_distilled`` with the
parameters in WW_REAL_DISTILL (``steps=300,batch=8,lr=1e-4``: the scheme's defaults but
the batch, halved for memory and time, and the learning rate, lowered for a pretrained
model) and detected by its exact KGW test; its figures go to durability_real_distill.json
and its texts to their own folder (the unmarked model's texts, the null, are shared).

SmolLM2-135M-Instruct (the real Q4_1 GGUF in $WEIGHTWATCH_REAL_MODELS, dequantized to a
float32 folder by ``wm_eval_real.gguf_to_folder``; its real 49,152-token tokenizer).
GaussMark marks its output matrix, which SmolLM2 ties to the input embedding. ``sigma``
is chosen before any text is generated, as the smallest of WW_REAL_SIGMAS whose per-token
KL divergence on 4 held-out human texts predicts a mean statistic sqrt(2 n KL) >= 4.5 for
n = 200 (TPR ~0.9 at FPR 1e-3), or fixed by WW_REAL_SIGMA.

Cells (each WW_REAL_TEXTS texts of 200 tokens, sampled at temperature 1 from BOS with no
logits processor, batched): unmodified; int8 and int4 per row; GGUF Q8_0 and Q4_0 round
trips; 30% magnitude pruning; a genuine full fine-tune (AdamW, every parameter, WW_REAL_FT_STEPS
steps of 8 x 64 tokens of licence text, lr WW_REAL_FT_LR); LoRA r=8 on q/v merged (same
text); a 50/50 merge with the unmarked model; 30% token substitution of the unmodified
texts; their paraphrase by a model trained from scratch on SmolLM2's tokenizer (token by
token, 3-nat copy bias); and the unmarked model's texts (the null). Detection is the one-pass output-side
statistic (``watermark.outputgrad``: exact N(0, 1) under the null; it ignores the input
embedding's share of the tied gradient). KGW and Gumbel (context 4) are tested on the
same texts with their own keys: no processor was used, so they sit at their FPR.

False positives: WW_REAL_HUMAN 200-token pieces of CPython docstrings (the human corpus
of every watermark evaluation here) at 1e-2 and 1e-3, KS test of the null p-values, under
one key; and the first WW_REAL_FRESH of them each under its own key (the test's calibration).
Quality on the first WW_REAL_QUALITY of them: perplexity ratio with a 95% bootstrap
interval and teacher-forced greedy agreement. Each changed copy's own quality
(``copy-quality``): its perplexity on the same texts against the unmarked original, and the
share of repeated 4-grams in the texts it sampled.

Generated texts are kept in WW_REAL_WORK (resumable); figures go to durability_real_200.json
(the first, 8-text run is durability_real.json).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from scipy import stats  # type: ignore[import-untyped]

from weightwatch.testing import derive
from weightwatch.testing import wm_eval as ev
from weightwatch.testing import wm_eval_real as er
from weightwatch.testing.real_models import default_cache
from weightwatch.watermark import MasterSecret, detect, get_scheme, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.distill_train import embed_distilled
from weightwatch.watermark.gaussmark import GaussMark, z_p_value
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.nulls import BinomialNull
from weightwatch.watermark.outputgrad import output_statistics
from weightwatch.watermark.weightio import embed_folder, load_reference

N = int(os.environ.get("WW_REAL_TEXTS", "200"))
N_HUMAN = int(os.environ.get("WW_REAL_HUMAN", "2000"))
N_QUALITY = int(os.environ.get("WW_REAL_QUALITY", "100"))
N_FRESH = int(os.environ.get("WW_REAL_FRESH", "300"))  # human texts, each under its own key
FRESH_FROM = int(os.environ.get("WW_REAL_FRESH_FROM", "0"))  # the first of them (resume)
FT_STEPS = int(os.environ.get("WW_REAL_FT_STEPS", "20"))
# GaussMark sigmas of the quality/power trade-off cell ("tradeoff")
TRADEOFF = tuple(
    float(s) for s in os.environ.get("WW_REAL_TRADEOFF", "0.03,0.04,0.05,0.07").split(",") if s
)
FT_LR = float(os.environ.get("WW_REAL_FT_LR", "5e-5"))
SIGMAS = tuple(
    float(s)
    for s in os.environ.get("WW_REAL_SIGMAS", "0.03,0.05,0.07,0.1,0.2,0.3,0.45,0.6").split(",")
)
THREADS = int(os.environ.get("WW_REAL_THREADS", "2"))
# Row-name prefixes to run (and "quality", "fpr", "fpr-fresh", "copy-quality", "length",
# "tradeoff", "tradeoff-ft"); unset: everything ("length" then runs for the distillation mark only, and
# "tradeoff" for GaussMark only).
CELLS = tuple(c for c in os.environ.get("WW_REAL_CELLS", "").split(",") if c)
# nats on the original token: the figure docs/watermark.md gives for the tiny table's
# paraphrase row (durability_eval.py's own default, WW_EVAL_COPY_BIAS, is 2.0)
COPY_BIAS = 3.0
WORK = Path(os.environ.get("WW_REAL_WORK", "/tmp/ww-wm-real"))
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALPHA = 1e-3
HERE = Path(__file__).resolve().parent
SCHEME = os.environ.get("WW_REAL_SCHEME", "gaussmark")
DISTILL = dict(
    item.split("=", 1)
    for item in os.environ.get("WW_REAL_DISTILL", "steps=300,batch=8,lr=1e-4").split(",")
    if item
)
_DEFAULT_OUT = (
    "durability_real_200.json" if SCHEME == "gaussmark" else "durability_real_distill.json"
)
OUT = Path(os.environ.get("WW_REAL_OUT", str(HERE / _DEFAULT_OUT)))
NULL_CELL = er.NULL_CELL
FT_CELL = er.finetune_cell(FT_STEPS, FT_LR)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def save(res: dict[str, Any]) -> None:
    OUT.write_text(json.dumps(res, indent=2) + "\n")


def choose_sigma(folder: Path, tok: Any, key: Any, res: dict[str, Any]) -> float:
    if "WW_REAL_SIGMA" in os.environ:
        return float(os.environ["WW_REAL_SIGMA"])
    base, _ = load_model(folder)
    held = ev.human_texts(tok, 2, skip=N_HUMAN + 20)  # the corpus holds 2,028 pieces
    ids = torch.from_numpy(np.stack([np.concatenate([[tok.bos_token_id], t]) for t in held]))
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits.float()
    w = base.get_output_embeddings().weight
    original = w.detach().clone()
    pilot = []
    chosen = SIGMAS[-1]
    for sigma in SIGMAS:
        scheme = GaussMark.from_params(sigma=sigma)
        assert isinstance(scheme, GaussMark)
        name = "model.embed_tokens.weight"
        rms = float(original.square().mean().sqrt())
        noise, _ = scheme.perturbation(key, name, tuple(original.shape), rms)
        with torch.no_grad():
            w.copy_(original + torch.from_numpy(noise))
        kl = er.kl_per_token(base_logits, base, ids)
        pilot.append({"sigma": sigma, "kl": kl, "predicted_psi": er.predicted_mean_psi(kl, 200)})
        log(f"pilot {pilot[-1]}")
        if pilot[-1]["predicted_psi"] >= 4.5:
            chosen = sigma
            break
    res["sigma_pilot"] = pilot
    return chosen


def cell_models(marked_dir: Path, orig_dir: Path, tok: Any) -> Any:
    """(name, builder) for every model change; each builder loads what it needs."""

    def unmodified() -> Any:
        return load_model(marked_dir)[0]

    def finetuned() -> Any:
        m = load_model(marked_dir)[0]
        return er.finetune_in_place(m, tok, steps=FT_STEPS, lr=FT_LR, seed=1)

    def lora() -> Any:
        m = load_model(marked_dir)[0]
        return derive.lora_merged(m, tok, steps=FT_STEPS, lr=5e-4, domain="b")

    def merged() -> Any:
        m = load_model(marked_dir)[0]
        u = load_model(orig_dir)[0]
        return derive.merge(m, u, weight=0.5)

    return [
        ("unmodified", unmodified),
        (FT_CELL, finetuned),
        (f"LoRA r=8 (q,v) {FT_STEPS} steps, lr 5e-4, merged", lora),
        ("50/50 merge with the unmarked model", merged),
        (NULL_CELL, lambda: load_model(orig_dir)[0]),
        ("GGUF Q8_0 round trip", lambda: ev.gguf_roundtrip(unmodified(), "Q8_0")),
        ("int8 (per row)", lambda: derive.quantize(unmodified(), bits=8)),
        ("int4 (per row)", lambda: derive.quantize(unmodified(), bits=4)),
        ("GGUF Q4_0 round trip", lambda: ev.gguf_roundtrip(unmodified(), "Q4_0")),
        ("30% magnitude pruning", lambda: ev.prune_all(unmodified(), fraction=0.3)),
    ]


def wanted(name: str) -> bool:
    return not CELLS or any(name.startswith(c) for c in CELLS)


def paraphraser_path() -> Path:
    """Another model with SmolLM2's tokenizer: the first of the models trained from scratch
    on it (``testing.real_population``; built once, cached)."""
    from weightwatch.testing.real_population import TEST, build_population

    return build_population(default_cache() / GGUF, TEST).models[0]


def _distill_tag() -> str:
    return "-".join(f"{k}{v}" for k, v in sorted(DISTILL.items()))


def texts_dir(name: str) -> Path:
    """Where a cell's texts are kept; the unmarked model's (the null) serve every mark."""
    if SCHEME == "gaussmark" or name == NULL_CELL:
        return WORK / "texts"
    return WORK / f"texts-{SCHEME}-{_distill_tag()}"


def saved_texts(name: str) -> list[Any] | None:
    """The first N texts a run kept for this cell (a larger earlier run's first N), if any."""
    for done in sorted(texts_dir(name).glob(f"{er.texts_file_stem(name)}-*.npy")):
        have = np.load(done)
        if have.shape[0] >= N:
            return list(have[:N])
    return None


def texts_for(name: str, build: Any, bos: int, seed: int) -> list[Any]:
    path = texts_dir(name) / f"{er.texts_file_stem(name)}-{N}.npy"
    kept = saved_texts(name)
    if kept is not None:
        return kept
    t0 = time.perf_counter()
    model = build()
    t1 = time.perf_counter()
    texts = ev.sample(model, N, seed=seed, batch=N, bos=bos)
    t2 = time.perf_counter()
    del model
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack(texts))
    log(
        f"{name}: built {t1 - t0:.0f} s, sampled {N} x 200 tokens in {t2 - t1:.0f} s "
        f"({N * 200 / (t2 - t1):.1f} tokens/s)"
    )
    return texts


def quality_of(orig: Path, marked: Path, held: list[Any], bos: int) -> dict[str, Any]:
    """Perplexity ratio (95% bootstrap) and greedy agreement of ``marked`` against ``orig``."""
    base_model, _ = load_model(orig)
    nll_b, greedy_b = er.per_text_nll_and_argmax(base_model, held, bos=bos)
    del base_model
    m, _ = load_model(marked)
    nll_m, greedy_m = er.per_text_nll_and_argmax(m, held, bos=bos)
    return {
        "n": len(held),
        "ppl_ratio": ev.ratio_interval(nll_m - nll_b),
        "greedy_agreement": float(
            np.mean([np.mean(a == b) for a, b in zip(greedy_m, greedy_b, strict=True)])
        ),
        "ppl_base": float(np.exp(nll_b.mean())),
    }


def quality(res: dict[str, Any], orig: Path, marked: Path, held: list[Any], bos: int) -> None:
    res["quality"] = quality_of(orig, marked, held, bos)
    log(f"quality {res['quality']}")
    save(res)


def tradeoff(
    res: dict[str, Any], orig: Path, key: Any, held: list[Any], tok: Any, bos: int
) -> None:
    """GaussMark's quality cost against its power on the real model, one row per sigma in
    WW_REAL_TRADEOFF: perplexity ratio and greedy agreement on the held-out human texts,
    and TPR at 1e-3 on N texts of 200 tokens sampled from that sigma's unmodified marked
    copy (the same sampling seed as the table's unmodified row, whose texts the chosen
    sigma reuses), and on the same tokens as N/2 texts of 400 (consecutive pairs joined).
    With ``tradeoff-ft`` (in WW_REAL_CELLS, or everything) also the TPR after the table's
    full fine-tune of that sigma's copy: what durability against fine-tuning costs."""
    out: dict[str, Any] = res.setdefault("tradeoff", {})
    for sigma in TRADEOFF:
        scheme = GaussMark.from_params(sigma=sigma)
        name = er.texts_name("unmodified", sigma)
        marked = WORK / f"marked-{sigma}"

        def made(marked: Path = marked, scheme: GaussMark = scheme) -> Path:
            """The sigma's marked copy, embedded the first time a cell needs it."""
            if not (marked / "weightwatch-watermark.json").is_file():
                embed_folder(orig, marked, scheme=scheme, key=key)
            return marked

        if str(sigma) not in out:
            row = quality_of(orig, made(), held, bos)
            texts = texts_for(name, lambda m=marked: load_model(m)[0], bos, 100)
            tested = Mark(scheme, orig).test(texts, [key])
            rate, ci = tested.tpr()
            row.update(
                {
                    "tpr": rate,
                    "tpr_ci": ci,
                    "mean_psi": tested.mean_stat,
                    "texts": len(texts),
                }
            )
            out[str(sigma)] = row
            log(f"tradeoff sigma {sigma}: {row}")
            save(res)
        if "tpr_400" not in out[str(sigma)]:
            pairs = joined(saved_texts(name) or [], 2)
            out[str(sigma)]["tpr_400"] = Mark(scheme, orig).test(pairs, [key]).tpr()[0]
            out[str(sigma)]["n_400"] = len(pairs)
            log(f"tradeoff sigma {sigma}: 400 tokens {out[str(sigma)]['tpr_400']}")
            save(res)
        if "tpr_ft" not in out[str(sigma)] and wanted("tradeoff-ft"):
            ft_name = er.texts_name(FT_CELL, sigma)

            def tuned(made: Any = made) -> Any:
                model = load_model(made())[0]
                return er.finetune_in_place(model, tok, steps=FT_STEPS, lr=FT_LR, seed=1)

            tested = Mark(scheme, orig).test(texts_for(ft_name, tuned, bos, 101), [key])
            rate, ci = tested.tpr()
            out[str(sigma)].update(
                {"tpr_ft": rate, "tpr_ft_ci": ci, "mean_psi_ft": tested.mean_stat}
            )
            log(f"tradeoff sigma {sigma}: after the fine-tune {rate} {ci}")
            save(res)


def repeated_4grams(texts: list[Any]) -> float:
    """Mean share of each text's 4-grams that repeat an earlier one: how far a copy's own
    text has degenerated into loops (the unmarked model's texts: about 0.02)."""
    shares = []
    for t in texts:
        grams = [tuple(t[i : i + 4]) for i in range(len(t) - 3)]
        shares.append(1.0 - len(set(grams)) / len(grams))
    return float(np.mean(shares))


def copy_quality(
    res: dict[str, Any], cells: list[tuple[int, str, Any]], orig: Path, held: list[Any], bos: int
) -> None:
    """How usable each changed copy still is: its perplexity on held-out human text as a
    ratio to the unmarked original's (95% bootstrap interval), and how repetitive its own
    sampled texts are. A change that breaks the model is not one a downloader would ship;
    the durability table reads differently for those rows."""
    out: dict[str, Any] = res.setdefault("copy_quality", {})
    nll_o = None
    for _, name, build in cells:
        if name not in out:
            if nll_o is None:
                base, _ = load_model(orig)
                nll_o, _ = er.per_text_nll_and_argmax(base, held, bos=bos)
                del base
            model = build()
            nll, _ = er.per_text_nll_and_argmax(model, held, bos=bos)
            del model
            out[name] = {"n": len(held), "ppl_ratio": ev.ratio_interval(nll - nll_o)}
        texts = saved_texts(name)
        if texts is not None:
            out[name]["repeated_4grams"] = repeated_4grams(texts)
        log(f"copy quality {name}: {out[name]}")
        save(res)


def null_row(res: dict[str, Any], name: str, tested: Tested, t0: float) -> None:
    """False positives on human texts at 1e-2 and 1e-3, and the KS p of their p-values
    (of the randomised p-values where the test is discrete)."""
    p_h = tested.p
    res[name] = {
        "n": len(p_h),
        "at_1e-2": ev.tpr(p_h, 1e-2),
        "at_1e-3": ev.tpr(p_h, 1e-3),
        "ks_p": float(stats.kstest(tested.p_continuous, "uniform").pvalue),
        "seconds": time.perf_counter() - t0,
        "p_values": [round(float(v), 6) for v in p_h],
    }
    log(f"{name} { {k: v for k, v in res[name].items() if k != 'p_values'} }")
    save(res)


class Tested:
    """One mark's test of a list of texts: p-values, their continuous version for KS (the
    distillation mark's binomial p-value is discrete: ``P(S > s) + U P(S = s)``, exactly
    uniform under the null), and the mean statistic (GaussMark's psi, or the share of
    green tokens)."""

    def __init__(self, p: Any, p_continuous: Any, mean_stat: float) -> None:
        self.p = np.asarray(p, dtype=np.float64)
        self.p_continuous = np.asarray(p_continuous, dtype=np.float64)
        self.mean_stat = mean_stat

    def tpr(self) -> tuple[float, tuple[float, float]]:
        """Share of texts detected at ALPHA, with its 95% Wilson interval."""
        hits = int((self.p <= ALPHA).sum())
        return hits / len(self.p), er.wilson(hits, len(self.p))


class Mark:
    """The mark under test: its scheme, the original folder and how texts are tested."""

    def __init__(self, scheme: Any, orig: Path) -> None:
        self.scheme, self.orig = scheme, orig

    def test(self, texts: list[Any], keys: list[Any]) -> Tested:
        """Each text under its own key (``keys`` as long as ``texts``) or all under one."""
        if len(keys) == 1:
            keys = keys * len(texts)
        if isinstance(self.scheme, GaussMark):
            ref = load_reference(
                self.orig, scheme=self.scheme
            )  # per call: a fine-tune needs memory
            if len(set(k.key_id for k in keys)) == 1:
                psi = output_statistics(ref, [t.tolist() for t in texts], keys[:1], batch=4)[:, 0]
            else:
                psi = np.asarray(
                    [
                        output_statistics(ref, [t.tolist()], [k])[0, 0]
                        for t, k in zip(texts, keys, strict=True)
                    ]
                )
            p = np.asarray([z_p_value(float(x))[0] for x in psi])
            return Tested(p, p, float(np.mean(psi)))
        null = BinomialNull(self.scheme.params.gamma)
        rng = np.random.default_rng(0)
        reports = [detect_distilled(t, self.scheme, k) for t, k in zip(texts, keys, strict=True)]
        p_dist = [r.p_value for r in reports]
        cont = [float(null.randomized_sf(r.score, r.n_scored, rng.random())) for r in reports]
        return Tested(p_dist, cont, float(np.mean([r.green_fraction or 0.0 for r in reports])))


def joined(texts: list[Any], k: int) -> list[Any]:
    """Consecutive runs of ``k`` texts joined into one: the same tokens as longer texts."""
    return [np.concatenate(texts[i : i + k]) for i in range(0, len(texts) - k + 1, k)]


def by_length(res: dict[str, Any], mark: Mark, key: Any) -> None:
    """TPR at 1e-3 against text length: each cell's texts joined in consecutive runs of 2
    and 4 (N/2 texts of 400 tokens, N/4 of 800), the same tokens the 200-token row
    tested. Cheap for the distillation mark (a count); GaussMark's statistic is a forward
    pass per token, so it runs only when asked for (WW_REAL_CELLS=length)."""
    out: dict[str, Any] = res.setdefault("by_length", {})
    for name in res.get("durability", {}):
        texts = saved_texts(name)
        if texts is None or name in out:
            continue
        row = {"200": res["durability"][name][SCHEME]}
        for k in (2, 4):
            longer = joined(texts, k)
            row[str(200 * k)] = mark.test(longer, [key]).tpr()[0]
            row[f"n_{200 * k}"] = len(longer)
        out[name] = row
        log(f"by length {name}: {row}")
    save(res)


def fpr(res: dict[str, Any], mark: Mark, key: Any, human: list[Any]) -> None:
    t0 = time.perf_counter()
    null_row(res, "fpr", mark.test(human, [key]), t0)


def fpr_fresh_keys(res: dict[str, Any], mark: Mark, master: MasterSecret, human: list[Any]) -> None:
    """The test's calibration: each human text under its own key. Over one key, texts that
    resemble each other have correlated statistics, so one key's p-values over a clustered
    corpus need not look uniform; the validity either mark proves is over the key."""
    t0 = time.perf_counter()
    keys = [master.derive(f"human-{FRESH_FROM + i}", scheme=SCHEME) for i in range(len(human))]
    null_row(res, "fpr_fresh_keys", mark.test(human, keys), t0)


def marked_folder(
    orig: Path, tok: Any, keys: dict[str, Any], res: dict[str, Any]
) -> tuple[Any, Path]:
    """The mark's scheme and its marked copy of the original (made once, kept in WORK)."""
    if SCHEME == "gaussmark":
        sigma = (
            float(res["sigma"]) if "sigma" in res else choose_sigma(orig, tok, keys[SCHEME], res)
        )
        res["sigma"] = sigma
        log(f"sigma {sigma}")
        scheme: Any = GaussMark.from_params(sigma=sigma)
        marked = WORK / f"marked-{sigma}"

        def make() -> None:
            embed_folder(orig, marked, scheme=scheme, key=keys[SCHEME])

    else:
        scheme = get_weight_scheme("distill", **DISTILL)
        assert isinstance(scheme, DistillMark)
        res["distill_params"] = scheme.describe()
        marked = WORK / f"distill-{_distill_tag()}"
        losses: list[float] = []

        def progress(step: int, loss: float) -> None:
            losses.append(loss)
            if step % 10 == 0:
                log(f"distill step {step}: loss {loss:.4f}")

        def make() -> None:
            embed_distilled(orig, marked, scheme=scheme, key=keys[SCHEME], progress=progress)
            res["distill_losses"] = [round(x, 5) for x in losses]

    if not (marked / "weightwatch-watermark.json").is_file():
        t0 = time.perf_counter()
        make()
        res["embed_seconds"] = time.perf_counter() - t0
    save(res)
    return scheme, marked


def main() -> None:
    torch.set_num_threads(THREADS)
    WORK.mkdir(parents=True, exist_ok=True)
    orig = er.gguf_to_folder(default_cache() / GGUF, WORK / "smollm2-f32")
    _, tok = load_model(orig)
    bos = int(tok.bos_token_id)
    master = MasterSecret(bytes(range(32)))
    keys = {
        s: master.derive("release", scheme=s) for s in ("gaussmark", "distill", "kgw", "gumbel")
    }
    res: dict[str, Any] = json.loads(OUT.read_text()) if OUT.is_file() else {}
    res.update(
        {
            "model": GGUF,
            "n": N,
            "n_human": N_HUMAN,
            "ft_steps": FT_STEPS,
            "ft_lr": FT_LR,
            "threads": THREADS,
        }
    )
    # a resumed run keeps its first start; each invocation and the cells it ran are listed
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    res.setdefault("started", now)
    invocation: dict[str, Any] = {"at": now, "cells": ",".join(CELLS) or "all", "n": N}
    if SCHEME == "gaussmark" and wanted("tradeoff"):
        invocation["tradeoff_sigmas"] = ",".join(str(s) for s in TRADEOFF)
    res.setdefault("invocations", []).append(invocation)
    scheme, marked = marked_folder(orig, tok, keys, res)
    mark = Mark(scheme, orig)
    rows: dict[str, Any] = res.setdefault("durability", {})
    sigma = res.get("sigma") if SCHEME == "gaussmark" else None

    def score(name: str, texts: list[Any]) -> None:
        t0 = time.perf_counter()
        tested = mark.test(texts, [keys[SCHEME]])
        dt = time.perf_counter() - t0
        rate, ci = tested.tpr()
        row = {
            SCHEME: rate,
            f"{SCHEME}_ci": ci,
            "mean_psi" if SCHEME == "gaussmark" else "mean_green": tested.mean_stat,
            "n": len(tested.p),
            "detect_s_per_text": dt / len(tested.p),
        }
        for scheme_name, params in (("kgw", {}), ("gumbel", {"context_width": 4})):
            s = get_scheme(scheme_name, **params)
            pv = [detect(t, scheme=s, keys=keys[scheme_name]).p_value for t in texts]
            row[scheme_name] = ev.tpr(pv, ALPHA)
        rows[name] = row
        log(f"{name}: {row}")
        save(res)

    def run_cells(cells: list[tuple[int, str, Any]]) -> None:
        for i, name, build in cells:
            if name == "unmodified":
                follow = ("30% token substitution", "paraphrase by another model")
                if not any(wanted(n) and n not in rows for n in (name, *follow)):
                    continue
                texts = texts_for(er.texts_name(name, sigma), build, bos, 100 + i)
                if wanted(name) and name not in rows:
                    score(name, texts)
                if wanted(follow[0]) and follow[0] not in rows:
                    score(follow[0], ev.substitute(texts, fraction=0.3, vocab=len(tok)))
                if wanted(follow[1]) and follow[1] not in rows:
                    para_model, _ = load_model(paraphraser_path())
                    para, changed = ev.paraphrase(texts, para_model, copy_bias=COPY_BIAS, bos=bos)
                    del para_model
                    res["paraphrase_changed"] = changed
                    log(f"paraphrase changed {changed:.3f} of the tokens")
                    score(follow[1], para)
                continue
            if name in rows or not wanted(name):
                continue
            score(name, texts_for(er.texts_name(name, sigma), build, bos, 100 + i))

    cells = [(i, name, build) for i, (name, build) in enumerate(cell_models(marked, orig, tok))]
    run_cells(cells[:5])  # unmodified, fine-tune, LoRA, merge, null: the rows that matter most
    human = ev.human_texts(tok, max(N_HUMAN, N_QUALITY, FRESH_FROM + N_FRESH))
    if "quality" not in res and wanted("quality"):
        quality(res, orig, marked, human[:N_QUALITY], bos)
    if "fpr" not in res and wanted("fpr"):
        fpr(res, mark, keys[SCHEME], human[:N_HUMAN])
    if "fpr_fresh_keys" not in res and wanted("fpr-fresh") and N_FRESH:
        fpr_fresh_keys(res, mark, master, human[FRESH_FROM : FRESH_FROM + N_FRESH])
    run_cells(cells[5:])
    if wanted("length") and (SCHEME == "distill" or "length" in CELLS):
        by_length(res, mark, keys[SCHEME])
    if SCHEME == "gaussmark" and wanted("tradeoff"):
        tradeoff(res, orig, keys[SCHEME], human[:N_QUALITY], tok, bos)
    if wanted("copy-quality"):
        copy_quality(res, cells, orig, human[:N_QUALITY], bos)
    res["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    save(res)
    print(render(res))


def render(r: dict[str, Any]) -> str:
    if "sigma" in r:
        mark = f"GaussMark sigma {r['sigma']} on the tied output/input embedding"
        scheme, label, stat, stat_label = "gaussmark", "GaussMark", "mean_psi", "mean psi"
    else:
        mark = f"the distillation mark ({r['distill_params']})"
        scheme, label, stat, stat_label = "distill", "distill", "mean_green", "green share"
    out = [
        f"SmolLM2-135M-Instruct (real, {r['model']} dequantized to float32); {mark}; "
        f"{r['n']} texts of 200 tokens per cell; "
        "TPR at FPR 1e-3 (exact p-values, 95% Wilson interval). KGW and Gumbel: no processor used.",
        "",
        f"| change | {label} | (95% CI) | {stat_label} | KGW (no processor) | Gumbel (no processor) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["durability"].items():
        lo, hi = row[f"{scheme}_ci"]
        out.append(
            f"| {name} | {row[scheme]:.2f} | {lo:.2f}–{hi:.2f} | {row[stat]:.2f} | "
            f"{row['kgw']:.3f} | {row['gumbel']:.3f} |"
        )
    if "fpr" in r:
        f = r["fpr"]
        out += [
            "",
            f"Human texts ({f['n']}): FPR {f['at_1e-2']:.4f} at 1e-2, {f['at_1e-3']:.4f} at "
            f"1e-3; KS p {f['ks_p']:.3f}.",
        ]
    if "fpr_fresh_keys" in r:
        f = r["fpr_fresh_keys"]
        out.append(
            f"Human texts ({f['n']}), a fresh key per text: FPR {f['at_1e-2']:.4f} at 1e-2, "
            f"{f['at_1e-3']:.4f} at 1e-3; KS p {f['ks_p']:.3f}."
        )
    if "quality" in r:
        q = r["quality"]
        m, lo, hi = q["ppl_ratio"]
        out.append(
            f"Quality ({q['n']} human texts): perplexity ratio {m:.4f} ({lo:.4f}–{hi:.4f}), "
            f"greedy agreement {q['greedy_agreement']:.3f}."
        )
    if "by_length" in r:
        out += [
            "",
            "| change | TPR at 1e-3, 200 tokens | 400 tokens | 800 tokens |",
            "|---|---|---|---|",
        ]
        for name, row in r["by_length"].items():
            out.append(
                f"| {name} | {row['200']:.3f} | {row['400']:.3f} (of {row['n_400']}) | "
                f"{row['800']:.3f} (of {row['n_800']}) |"
            )
    if "tradeoff" in r:
        out += [
            "",
            "| sigma | perplexity ratio (95% CI) | greedy agreement | TPR at 1e-3 (95% CI) | mean psi "
            "| TPR, 400 tokens | TPR after the fine-tune (95% CI) |",
            "|---|---|---|---|---|---|---|",
        ]
        for sigma, row in sorted(r["tradeoff"].items(), key=lambda kv: float(kv[0])):
            m, lo, hi = row["ppl_ratio"]
            tlo, thi = row["tpr_ci"]
            out.append(
                f"| {sigma} | {m:.4f} ({lo:.4f}–{hi:.4f}) | {row['greedy_agreement']:.3f} | "
                f"{row['tpr']:.3f} ({tlo:.3f}–{thi:.3f}) | {row['mean_psi']:.2f} | "
                f"{row.get('tpr_400', float('nan')):.3f} | {_ft_cell(row)} |"
            )
    if "copy_quality" in r:
        out += [
            "",
            "| changed copy | perplexity / unmarked original (95% CI) | repeated 4-grams in its texts |",
            "|---|---|---|",
        ]
        for name, row in r["copy_quality"].items():
            m, lo, hi = row["ppl_ratio"]
            rep = row.get("repeated_4grams")
            out.append(
                f"| {name} | {m:.3f} ({lo:.3f}–{hi:.3f}) | {'' if rep is None else f'{rep:.3f}'} |"
            )
    return "\n".join(out)


def _ft_cell(row: dict[str, Any]) -> str:
    if "tpr_ft" not in row:
        return ""
    lo, hi = row["tpr_ft_ci"]
    return f"{row['tpr_ft']:.3f} ({lo:.3f}–{hi:.3f})"


if __name__ == "__main__":
    main()
