"""weightwatch vs transformers' ``WatermarkDetector`` vs MarkLLM's KGW, in one run.

Texts: 200-token generations of the tiny Llama (vocabulary 1,024) watermarked by
transformers' own ``WatermarkingConfig`` (lefthash, context 1, green ratio 0.25, bias 2),
plus human prose and code chunks, each under a fresh random key. weightwatch's ``kgw-hf``
reproduces transformers' green lists, so both detect the same texts. MarkLLM's KGW
seeds differently (``hash_key * prf[prev] mod V``), so it detects its own generations
(same model, prompts and settings) and is timed on the same token ids as the others.
Speed is also taken on random ids at vocabulary 32k and 128k (the same ids for every
tool). MarkLLM runs in benchmarks/watermark/.venv, created on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import harness
import numpy as np
import torch
from scipy import stats

from weightwatch.watermark import MasterSecret, WatermarkKey, detect, get_scheme, hashing_key_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
N_WM = int(os.environ.get("WW_COMPARE_N", "100"))
N_HUMAN = int(os.environ.get("WW_COMPARE_HUMAN", "1500"))
TOKENS = 200
GAMMA, DELTA = 0.25, 2.0


def ensure_venv() -> Path:
    """MarkLLM's own environment; torch pinned first so pip never pulls a CUDA build."""
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        constraints = str(ROOT / "constraints.txt")
        for pkg in ("torch==2.13.0", "markllm"):
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "-c", constraints, pkg],
                check=True,
                capture_output=True,
            )
    return py


def markllm(py: Path, request: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(request, fh)
    proc = subprocess.run(
        [str(py), str(HERE / "markllm_runner.py"), fh.name],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def hf_detector(model_config: Any, hashing_key: int) -> Any:
    from transformers import WatermarkDetector, WatermarkingConfig

    cfg = WatermarkingConfig(greenlist_ratio=GAMMA, bias=DELTA, hashing_key=hashing_key)
    return WatermarkDetector(model_config=model_config, device="cpu", watermarking_config=cfg)


def hf_detect(det: Any, seq: np.ndarray) -> float:
    out = det(torch.from_numpy(seq)[None, :], return_dict=True)
    return float(out.z_score[0])


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    torch.set_num_threads(1)
    py = ensure_venv()
    rng = np.random.default_rng(0)
    master = MasterSecret(bytes(range(32)))
    model, tok, model_dir = harness.load_family("llama")
    vocab = model.config.vocab_size
    key = master.derive("compare", scheme="kgw-hf")
    hk = hashing_key_of(key)
    scheme = get_scheme("kgw-hf", vocab_size=vocab, greenlist_ratio=GAMMA, bias=DELTA)
    prose = harness.prose_ids(tok)
    code = harness.code_ids(tok, max_chars=1_500_000)
    prompts = harness.prompts(prose, N_WM, rng)
    # -- transformers' own watermark: generation ----------------------------------------
    prompt_t = torch.from_numpy(prompts)
    torch.manual_seed(1)
    with torch.no_grad():
        out = model.generate(
            prompt_t,
            attention_mask=torch.ones_like(prompt_t),
            watermarking_config=scheme.watermarking_config(key),  # type: ignore[attr-defined]
            max_new_tokens=TOKENS,
            min_new_tokens=TOKENS,
            do_sample=True,
            top_k=0,
            pad_token_id=model.config.eos_token_id,
            suppress_tokens=[model.config.eos_token_id],
        )
    wm = list(out[:, prompts.shape[1] :].numpy().astype(np.int64))
    human = harness.chunks(prose, TOKENS) + harness.chunks(code, TOKENS)
    human = [human[i] for i in rng.permutation(len(human))[:N_HUMAN]]
    human_keys = [int(k) for k in rng.integers(1, 2**40, len(human))]
    # -- detection: weightwatch kgw-hf (exact binomial) ---------------------------------
    ww_wm, t_ww = _timed(lambda: [detect(s, scheme=scheme, keys=key).p_value for s in wm])
    ww_null = [
        detect(s, scheme=scheme, keys=WatermarkKey.from_integer(k)).p_value
        for s, k in zip(human, human_keys, strict=True)
    ]
    # -- transformers WatermarkDetector (z-score, normal tail) --------------------------
    det = hf_detector(model.config, hk)
    hf_wm, t_hf = _timed(lambda: [hf_detect(det, s) for s in wm])
    hf_null = [
        hf_detect(hf_detector(model.config, k), s) for s, k in zip(human, human_keys, strict=True)
    ]
    # -- MarkLLM: its own generations; timed on the same ids ----------------------------
    mk_hash = 15485863
    mk_gen = markllm(
        py,
        {
            "mode": "generate", "model": str(model_dir), "prompts": prompts.tolist(),
            "tokens": TOKENS, "hash_key": mk_hash, "gamma": GAMMA, "delta": DELTA, "seed": 1,
        },
    )  # fmt: skip
    mk_wm = markllm(
        py,
        {
            "mode": "detect", "model": str(model_dir), "vocab_size": vocab, "gamma": GAMMA,
            "sequences": mk_gen["sequences"], "hash_keys": [mk_hash] * N_WM,
        },
    )  # fmt: skip
    mk_same = markllm(
        py,
        {
            "mode": "detect", "model": str(model_dir), "vocab_size": vocab, "gamma": GAMMA,
            "sequences": [s.tolist() for s in wm], "hash_keys": [mk_hash] * N_WM,
        },
    )  # fmt: skip
    mk_null = markllm(
        py,
        {
            "mode": "detect", "model": str(model_dir), "vocab_size": vocab, "gamma": GAMMA,
            "sequences": [s.tolist() for s in human], "hash_keys": human_keys,
        },
    )  # fmt: skip
    z_to_p = stats.norm.sf
    n_tok = sum(len(s) for s in wm)
    native = get_scheme("kgw")
    nkey = master.derive("compare", scheme="kgw")
    _, t_native = _timed(lambda: [detect(s, scheme=native, keys=nkey) for s in wm])
    joined = np.concatenate(wm)
    _, t_native_long = _timed(lambda: detect(joined, scheme=native, keys=nkey))

    def rates(p: list[float] | np.ndarray) -> str:
        arr = np.asarray(p)
        return f"{np.mean(arr <= 1e-2):.3f} | {np.mean(arr <= 1e-3):.3f}"

    print("## Watermark detectors side by side: weightwatch, transformers, MarkLLM\n")
    import transformers

    print(
        f"{N_WM} generations of {TOKENS} tokens from the tiny Llama (vocabulary {vocab:,}) "
        f"watermarked by transformers {transformers.__version__} `WatermarkingConfig` "
        f"(green ratio {GAMMA}, bias {DELTA}, lefthash, context 1); {len(human):,} human "
        "200-token chunks (prose and standard-library code), each under a fresh random key. "
        "MarkLLM 0.1.5 KGW (same gamma/delta) detects its own generations from the same "
        "prompts. 'p <= alpha' uses each tool's own p-value (weightwatch: exact binomial; "
        "transformers and MarkLLM: normal tail of the z-score).\n"
    )
    print("| detector | texts | TPR at 1e-2 | TPR at 1e-3 | FPR on human at 1e-2 | FPR at 1e-3 |"
          " default verdict: TPR / FPR |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    ww_default = (np.mean(np.asarray(ww_wm) <= 1e-3), np.mean(np.asarray(ww_null) <= 1e-3))
    print(
        f"| weightwatch kgw-hf | transformers-watermarked | {rates(ww_wm)} | {rates(ww_null)} |"
        f" p <= 1e-3: {ww_default[0]:.3f} / {ww_default[1]:.4f} |"
    )
    hf_p, hf_np = z_to_p(np.asarray(hf_wm)), z_to_p(np.asarray(hf_null))
    print(
        f"| transformers WatermarkDetector | transformers-watermarked | {rates(hf_p)} | "
        f"{rates(hf_np)} | z > 3: {np.mean(np.asarray(hf_wm) > 3):.3f} / "
        f"{np.mean(np.asarray(hf_null) > 3):.4f} |"
    )
    mk_p, mk_np = z_to_p(np.asarray(mk_wm["z"])), z_to_p(np.asarray(mk_null["z"]))
    print(
        f"| MarkLLM KGW | MarkLLM-watermarked | {rates(mk_p)} | {rates(mk_np)} | z > 4: "
        f"{np.mean(np.asarray(mk_wm['z']) > 4):.3f} / {np.mean(np.asarray(mk_null['z']) > 4):.4f} |"
    )
    print("\n### Detection speed on the same token ids (one thread)\n")
    print(
        f"The {N_WM} transformers-watermarked texts above ({n_tok:,} tokens, vocabulary {vocab:,}).\n"
    )
    print("| detector | seconds | tokens/s | time vs weightwatch kgw, one text at a time |")
    print("|---|---:|---:|---:|")
    speed = [
        ("weightwatch kgw (native), one text at a time", t_native),
        ("weightwatch kgw (native), all texts as one sequence", t_native_long),
        ("weightwatch kgw-hf (transformers-compatible lists)", t_ww),
        ("transformers WatermarkDetector", t_hf),
        ("MarkLLM KGW score_sequence", float(mk_same["seconds"])),
    ]
    for name, t in speed:
        print(f"| {name} | {t:.3f} | {n_tok / t:,.0f} | {t / t_native:.1f}x |")
    print()
    rows = []
    for big in (32_000, 128_000):
        ids = [rng.integers(3, big, TOKENS) for _ in range(20)]
        n = 20 * TOKENS
        s_hf = get_scheme("kgw-hf", vocab_size=big)
        cfg = type(model.config)(**{**model.config.to_dict(), "vocab_size": big})
        d = hf_detector(cfg, hk)
        _, t_hf_big = _timed(lambda: [hf_detect(d, s) for s in ids])  # noqa: B023
        _, t_wwhf = _timed(lambda: [detect(s, scheme=s_hf, keys=key) for s in ids])  # noqa: B023
        _, t_nat = _timed(lambda: [detect(s, scheme=native, keys=nkey) for s in ids])  # noqa: B023
        mk = markllm(py, {"mode": "detect", "model": str(model_dir), "vocab_size": big,
                          "gamma": GAMMA, "sequences": [s.tolist() for s in ids],
                          "hash_keys": [mk_hash] * len(ids)})  # fmt: skip
        for name, t in (
            ("weightwatch kgw (native)", t_nat),
            ("weightwatch kgw-hf", t_wwhf),
            ("transformers WatermarkDetector", t_hf_big),
            ("MarkLLM KGW", float(mk["seconds"])),
        ):
            rows.append((big, name, n / t, t / t_nat))
    print("Random ids, 20 texts of 200 tokens per vocabulary, the same ids for every tool.\n")
    print("| vocab | detector | tokens/s | weightwatch kgw is faster by |")
    print("|---:|---|---:|---:|")
    for big, name, tps, ratio in rows:
        print(f"| {big:,} | {name} | {tps:,.0f} | {ratio:.1f}x |")
    print()


if __name__ == "__main__":
    main()
