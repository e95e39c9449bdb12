"""Runs MarkLLM's KGW inside benchmarks/watermark/.venv (MarkLLM is not a weightwatch dependency).

Usage: markllm_runner.py REQUEST_JSON -> prints JSON. Requests:
  {"mode": "generate", "model": DIR, "prompts": [[ids]], "tokens": N, "hash_key": K,
   "gamma": g, "delta": d, "seed": s}               -> {"sequences": [[ids]]}
  {"mode": "detect", "model": DIR, "vocab_size": V, "sequences": [[ids]], "hash_keys": [K],
   "gamma": g}                                       -> {"z": [...], "seconds": t}
Detection times only MarkLLM's ``score_sequence`` on token ids (no tokenization).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def _kgw(model: Any, tok: Any, vocab: int, gamma: float, delta: float, hash_key: int) -> Any:
    from markllm.utils.transformers_config import TransformersConfig
    from markllm.watermark.kgw import KGW

    cfg = {
        "algorithm_name": "KGW",
        "gamma": gamma,
        "delta": delta,
        "hash_key": hash_key,
        "prefix_length": 1,
        "z_threshold": 4.0,
        "f_scheme": "time",
        "window_scheme": "left",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(cfg, fh)
    tc = TransformersConfig(model=model, tokenizer=tok, vocab_size=vocab, device="cpu")
    return KGW(algorithm_config=fh.name, transformers_config=tc)


def main() -> None:
    torch.set_num_threads(1)
    req = json.loads(Path(sys.argv[1]).read_text())
    if req["mode"] == "generate":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(req["model"], local_files_only=True).eval()
        tok = AutoTokenizer.from_pretrained(req["model"], local_files_only=True)
        vocab = model.config.vocab_size
        wm = _kgw(model, tok, vocab, req["gamma"], req["delta"], req["hash_key"])
        prompt = torch.tensor(req["prompts"])
        torch.manual_seed(req["seed"])
        eos = model.config.eos_token_id
        with torch.no_grad():
            out = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                logits_processor=[wm.logits_processor],
                max_new_tokens=req["tokens"],
                min_new_tokens=req["tokens"],
                do_sample=True,
                top_k=0,
                pad_token_id=eos,
                suppress_tokens=[eos],
            )
        print(json.dumps({"sequences": out[:, prompt.shape[1] :].tolist()}))
        return
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(req["model"], local_files_only=True)
    seqs = [torch.tensor(s) for s in req["sequences"]]
    dets = [
        _kgw(None, tok, req["vocab_size"], req["gamma"], 2.0, k)
        for k in sorted(set(req["hash_keys"]))
    ]
    by_key = {d.config.hash_key: d for d in dets}
    zs: list[float] = []
    t0 = time.perf_counter()
    for s, k in zip(seqs, req["hash_keys"], strict=True):
        z, _ = by_key[k].utils.score_sequence(s)
        zs.append(float(z))
    print(json.dumps({"z": zs, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
