"""Run with vLLM's own Python: generate with vLLM (CPU, v1 engine) on a local model folder,
with or without ``weightwatch.watermark.vllm_processor.WatermarkProcessor``; prints one JSON
line {"token_ids": [[...], ...], "seconds": s}. The watermark configuration comes from the
``WEIGHTWATCH_WATERMARK_*`` environment, exactly as ``vllm serve`` would read it.

usage: vllm_generate.py MODEL_DIR N_PROMPTS MAX_TOKENS (watermark|plain)
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    model, n, max_tokens, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from vllm import LLM, SamplingParams

    from weightwatch.watermark.vllm_processor import WatermarkProcessor

    procs = [WatermarkProcessor] if mode == "watermark" else []
    llm = LLM(
        model=model,
        dtype="float32",
        max_model_len=256,
        enforce_eager=True,
        max_num_seqs=8,
        logits_processors=procs,
        seed=0,
    )
    prompts = [
        {"prompt_token_ids": [1 + (7 * i) % 900, 2 + (13 * i) % 900, 3 + (31 * i) % 900]}
        for i in range(n)
    ]
    params = [  # a seed per request: one seed for all would draw the same noise for all
        SamplingParams(
            max_tokens=max_tokens,
            min_tokens=max_tokens,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            seed=1000 + i,
            ignore_eos=True,
        )
        for i in range(n)
    ]
    t = time.perf_counter()
    outs = llm.generate(prompts, params)
    seconds = time.perf_counter() - t
    ids = [list(o.outputs[0].token_ids) for o in outs]
    print(
        json.dumps(
            {
                "token_ids": ids,
                "prompts": [p["prompt_token_ids"] for p in prompts],
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
