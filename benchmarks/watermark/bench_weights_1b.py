"""Weight-watermark cost at real sizes (``make watermark-bench-1b``; docs/benchmarks.md).

1. **Embedding, 1B-shaped.** A folder with Llama-3.2-1B's shapes (hidden 2,048, MLP 8,192,
   16 layers, 32/8 heads, vocabulary 128,256, tied embedding; 1.24 B weights) filled with
   random bfloat16 weights, in 5 safetensors shards, is marked with GaussMark
   (``embed_folder``: read every shard, mark the 263 M-weight embedding, write every
   shard). Timed end to end, beside copying the folder (``shutil.copytree``), and the
   keyed draw-and-add alone.
2. **Detection per 200-token text**, real SmolLM2-135M (float32 folder from the real GGUF):
   GaussMark by the full gradient (forward + backward, ``log_likelihood_gradient``) and by
   the one-pass output statistic (``outputgrad``), the distillation mark's KGW test, and the
   sampling-time KGW and Gumbel detectors, in the same run: best of WW_BENCH_REPEAT.
3. **Distillation step.** One step of ``distill`` (teacher forward, student forward and
   backward, AdamW) on SmolLM2 at 2 x 128 tokens; its time per weight-token extrapolated to
   the 1B shape and to the distillation budgets stated in the output (cost taken as
   proportional to weights x tokens, the usual 2 + 6 FLOP per weight per token).

Threads: WW_BENCH_THREADS (1). Writes bench_weights_1b.json beside this file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from weightwatch.testing import wm_eval as ev
from weightwatch.testing import wm_eval_real as er
from weightwatch.testing.real_models import default_cache
from weightwatch.watermark import MasterSecret, detect, get_scheme, get_weight_scheme
from weightwatch.watermark.distill import DistillMark, detect_distilled
from weightwatch.watermark.distill_train import _green
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.generation import load_model
from weightwatch.watermark.outputgrad import output_statistics
from weightwatch.watermark.weightio import embed_folder, load_reference, log_likelihood_gradient

HERE = Path(__file__).resolve().parent
REPEAT = int(os.environ.get("WW_BENCH_REPEAT", "3"))
THREADS = int(os.environ.get("WW_BENCH_THREADS", "1"))
WORK = Path(os.environ.get("WW_REAL_WORK", "/tmp/ww-wm-real"))
SHAPE = {"hidden": 2048, "ffn": 8192, "layers": 16, "heads": 32, "kv": 8, "vocab": 128_256}


def best(fn: Any, repeat: int = REPEAT) -> float:
    """Fewest CPU seconds of ``repeat`` calls (this process's CPU time, not wall time: the
    machine is shared, and with one thread CPU time is the cost the call would have alone)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def write_1b(folder: Path) -> int:
    """Random bfloat16 weights with Llama-3.2-1B's names and shapes; returns the weight count."""
    import transformers
    from safetensors.torch import save_file

    s = SHAPE
    cfg = transformers.LlamaConfig(
        vocab_size=s["vocab"],
        hidden_size=s["hidden"],
        intermediate_size=s["ffn"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv"],
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
    )
    folder.mkdir(parents=True)
    cfg.save_pretrained(folder)
    h, f, kv = s["hidden"], s["ffn"], s["hidden"] * s["kv"] // s["heads"]
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> Any:
        return (torch.randn(*shape, generator=gen) * 0.02).to(torch.bfloat16)

    total = 0
    shards: list[dict[str, Any]] = [
        {
            "model.embed_tokens.weight": rand(s["vocab"], h),
            "model.norm.weight": torch.ones(h, dtype=torch.bfloat16),
        }
    ]
    for i in range(s["layers"]):
        if i % 4 == 0:
            shards.append({})
        p = f"model.layers.{i}."
        shards[-1].update(
            {
                p + "self_attn.q_proj.weight": rand(h, h),
                p + "self_attn.k_proj.weight": rand(kv, h),
                p + "self_attn.v_proj.weight": rand(kv, h),
                p + "self_attn.o_proj.weight": rand(h, h),
                p + "mlp.gate_proj.weight": rand(f, h),
                p + "mlp.up_proj.weight": rand(f, h),
                p + "mlp.down_proj.weight": rand(h, f),
                p + "input_layernorm.weight": torch.ones(h, dtype=torch.bfloat16),
                p + "post_attention_layernorm.weight": torch.ones(h, dtype=torch.bfloat16),
            }
        )
    for j, tensors in enumerate(shards):
        total += sum(int(t.numel()) for t in tensors.values())
        save_file(
            tensors,
            str(folder / f"model-{j + 1:05d}-of-{len(shards):05d}.safetensors"),
            metadata={"format": "pt"},
        )
        shards[j] = {}
    return total


def mark_only(gauss: GaussMark, key: Any) -> float:
    """The keyed draw and add alone, on a float32 matrix of the 1B embedding's shape."""
    w = np.zeros((SHAPE["vocab"], SHAPE["hidden"]), dtype=np.float32)
    t0 = time.process_time()
    gauss.add_noise_(key, "model.embed_tokens.weight", w, 0.02)
    return time.process_time() - t0


def extrapolate(res: dict[str, Any]) -> dict[str, float]:
    """The distillation step at other sizes: the forward/backward part in proportion to
    weights x tokens, AdamW's update in proportion to weights (stated assumptions)."""
    parts = res["distill_step_parts_135m_2x128_s"]
    scale = res["weights_1b"] / res["weights_135m"]

    def step(tokens: int) -> float:
        return float(
            parts["teacher_fwd_student_fwd_bwd"] * scale * tokens / 256 + parts["adamw"] * scale
        )

    return {
        "distill_step_1b_16x128_s_extrapolated": step(16 * 128),
        "distill_1b_default_300x16x128_h_extrapolated": step(16 * 128) * 300 / 3600,
        "distill_1b_5000x64x256_days_extrapolated": step(64 * 256) * 5000 / 86400,
        "detect_gaussmark_full_gradient_1b_s_extrapolated": res["detect_gaussmark_full_gradient_s"]
        * scale,
        "detect_gaussmark_one_pass_1b_s_extrapolated": res["detect_gaussmark_one_pass_s"] * scale,
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    res: dict[str, Any] = {
        "threads": THREADS,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": os.getloadavg(),
    }
    master = MasterSecret(bytes(range(32)))
    key = master.derive("bench", scheme="gaussmark")
    gauss = GaussMark.from_params(sigma=0.07)
    assert isinstance(gauss, GaussMark)
    tmp = Path(tempfile.mkdtemp(prefix="ww-wm-1b-"))
    try:
        t0 = time.perf_counter()
        res["weights_1b"] = write_1b(tmp / "base")
        res["write_1b_s"] = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        shutil.copytree(tmp / "base", tmp / "copy")
        res["copy_1b_s"] = time.perf_counter() - t0
        res["copy_1b_cpu_s"] = time.process_time() - c0
        shutil.rmtree(tmp / "copy")
        t0, c0 = time.perf_counter(), time.process_time()
        embed_folder(tmp / "base", tmp / "marked", scheme=gauss, key=key)
        res["embed_1b_s"] = time.perf_counter() - t0
        res["embed_1b_cpu_s"] = time.process_time() - c0
        res["mark_only_1b_s"] = mark_only(gauss, key)
        print(json.dumps(res), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # detection per 200-token text on the real model
    orig = er.gguf_to_folder(
        default_cache() / "SmolLM2-135M-Instruct.Q4_1.gguf", WORK / "smollm2-f32"
    )
    ref = load_reference(orig, scheme=gauss)
    ids = ev.human_texts(ref.tokenizer, 1, skip=50)[0].tolist()
    res["detect_gaussmark_full_gradient_s"] = best(
        lambda: gauss.statistics([log_likelihood_gradient(ref, ids)], ref.stds, [key])
    )
    res["detect_gaussmark_one_pass_s"] = best(lambda: output_statistics(ref, [ids], [key], batch=1))
    keys20 = [master.derive(f"r{i}", scheme="gaussmark") for i in range(20)]
    res["detect_gaussmark_one_pass_20_keys_s"] = best(
        lambda: output_statistics(ref, [ids], keys20, batch=1), 1
    )
    dist = get_weight_scheme("distill")
    assert isinstance(dist, DistillMark)
    dkey = master.derive("bench", scheme="distill")
    res["detect_distill_s"] = best(lambda: detect_distilled(ids, dist, dkey), 5)
    for name, params in (("kgw", {}), ("gumbel", {"context_width": 4})):
        s = get_scheme(name, **params)
        k = master.derive("bench", scheme=name)
        res[f"detect_{name}_s"] = best(lambda s=s, k=k: detect(ids, scheme=s, keys=k), 5)
    ref.model = None  # free the reference's weights before the distillation step
    print(json.dumps(res), flush=True)

    # one distillation step on the real model, in parts to stay within ~3 GiB: the teacher's
    # forward is the same model under no_grad (same arithmetic as the frozen copy), AdamW's
    # update is timed on a quarter-size parameter and scaled by 4
    model, tok = load_model(orig)
    rows = ev.human_texts(tok, 2, tokens=127, skip=60)
    ids = torch.from_numpy(np.stack([np.concatenate([[tok.bos_token_id], t]) for t in rows]))
    vocab = int(model.config.vocab_size)

    def step_compute() -> None:
        with torch.no_grad():
            target = model(input_ids=ids).logits.float()
            target[_green(dist, dkey, ids, vocab)] += dist.params.delta
            target = torch.log_softmax(target, dim=-1)
        model.zero_grad(set_to_none=True)
        logp = torch.log_softmax(model(input_ids=ids).logits.float(), dim=-1)
        kl = torch.nn.functional.kl_div(logp, target, log_target=True, reduction="none").sum(-1)
        kl.mean().backward()

    for p in model.parameters():
        p.requires_grad_(True)
    t_compute = best(step_compute, 2)
    model.zero_grad(set_to_none=True)
    n135 = sum(p.numel() for p in model.parameters())
    part = torch.nn.Parameter(torch.zeros(n135 // 4))
    part.grad = torch.randn(n135 // 4)
    opt = torch.optim.AdamW([part], lr=1e-4)
    t_adam = best(opt.step, 2) * 4
    res["distill_step_parts_135m_2x128_s"] = {
        "teacher_fwd_student_fwd_bwd": t_compute,
        "adamw": t_adam,
    }
    res["distill_step_135m_2x128_s"] = t_compute + t_adam
    res["weights_135m"] = int(n135)
    res.update(extrapolate(res))
    res["load_after"] = os.getloadavg()
    (HERE / "bench_weights_1b.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
