"""Generation overhead of the watermark hook on tiny Llama models (CPU, one thread).

Compares tokens/s of ``model.generate`` without a watermark, with weightwatch's hook
(KGW over the whole vocabulary and over the top-50 candidates, Gumbel, tournament
sampling over the whole vocabulary and the top-50) and with transformers' own
``WatermarkingConfig``, at batch 1 and 16. Overhead is against plain sampling, except
Gumbel's, which decodes greedily and is compared with plain greedy decoding.
"""

from __future__ import annotations

import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from weightwatch.watermark import MasterSecret, WatermarkLogitsProcessor, get_scheme

NEW_TOKENS = 96
REPEATS = 5


def _noop(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    return scores


def _model(vocab: int, *, hidden: int = 128, layers: int = 2, ffn: int = 384) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=max(4, hidden // 64),
        num_key_value_heads=2,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return LlamaForCausalLM(cfg).eval()


def _once(model: LlamaForCausalLM, prompt: torch.Tensor, kwargs: dict[str, object]) -> float:
    torch.manual_seed(1)
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            **kwargs,
        )
    return time.perf_counter() - t0


def _rates(
    model: LlamaForCausalLM, batch: int, settings: dict[str, dict[str, object]]
) -> dict[str, float]:
    """Tokens/s of each setting, best of REPEATS rounds that visit every setting in turn,
    so that a busy spell on this shared machine slows all settings alike."""
    prompt = torch.randint(3, model.config.vocab_size, (batch, 8))
    best = dict.fromkeys(settings, float("inf"))
    for _ in range(REPEATS):
        for name, kwargs in settings.items():
            best[name] = min(best[name], _once(model, prompt, kwargs))
    return {name: batch * NEW_TOKENS / t for name, t in best.items()}


def main() -> None:
    torch.set_num_threads(1)
    master = MasterSecret(bytes(range(32)))
    kgw, gumbel, tour = get_scheme("kgw"), get_scheme("gumbel"), get_scheme("tournament")
    kk, gk = master.derive("b", scheme="kgw"), master.derive("b", scheme="gumbel")
    tk = master.derive("b", scheme="tournament")
    print("## Watermark generation overhead\n")
    print(
        f"Tiny Llama (hidden 128, 2 layers), {NEW_TOKENS} new tokens, one thread; best of "
        f"{REPEATS} rounds, each round running every setting once (interleaved). The no-op "
        "processor row is the cost of any Python logits processor in `generate`, before "
        "the watermark does anything. Overhead is against plain sampling; gumbel's against "
        "plain greedy decoding.\n"
    )
    print("| vocab | batch | setting | tokens/s | overhead |")
    print("|---:|---:|---|---:|---:|")
    sample: dict[str, object] = {"do_sample": True, "top_k": 0}
    for vocab in (1024, 32_000):
        model = _model(vocab)
        hf_scheme = get_scheme("kgw-hf", vocab_size=vocab)
        hf_cfg = hf_scheme.watermarking_config(master.derive("b", scheme="kgw-hf"))
        settings: dict[str, dict[str, object]] = {
            "no watermark (sampling)": sample,
            "no-op logits processor": {**sample, "logits_processor": [_noop]},
            "kgw, whole vocabulary": {
                **sample,
                "logits_processor": [WatermarkLogitsProcessor(kgw, kk)],
            },
            "kgw, top-50 candidates": {
                **sample,
                "logits_processor": [WatermarkLogitsProcessor(kgw, kk, top_k=50)],
            },
            "tournament (depth 30), whole vocabulary": {
                **sample,
                "logits_processor": [WatermarkLogitsProcessor(tour, tk)],
            },
            "tournament (depth 30), top-50 candidates": {
                **sample,
                "logits_processor": [WatermarkLogitsProcessor(tour, tk, top_k=50)],
            },
            "transformers WatermarkingConfig": {**sample, "watermarking_config": hf_cfg},
            "no watermark (greedy)": {"do_sample": False},
            "gumbel, whole vocabulary (vs greedy)": {
                "do_sample": False,
                "logits_processor": [WatermarkLogitsProcessor(gumbel, gk)],
            },
        }
        for batch in (1, 16):
            rates = _rates(model, batch, settings)
            for name, rate in rates.items():
                ref = rates[
                    "no watermark (greedy)" if "greedy" in name else "no watermark (sampling)"
                ]
                overhead = (
                    "—" if name.startswith("no watermark") else f"{(ref / rate - 1) * 100:+.0f}%"
                )
                print(f"| {vocab:,} | {batch} | {name} | {rate:,.0f} | {overhead} |")
    print()
    _realistic(master, kgw, kk, tour, tk)


def _realistic(master: MasterSecret, kgw: object, kk: object, tour: object, tk: object) -> None:
    """The same hook on a model whose forward pass costs what small real models cost."""
    vocab = 32_000
    model = _model(vocab, hidden=1024, layers=8, ffn=2816)
    params = sum(p.numel() for p in model.parameters())
    sample: dict[str, object] = {"do_sample": True, "top_k": 0}
    hf_cfg = get_scheme("kgw-hf", vocab_size=vocab).watermarking_config(
        master.derive("b", scheme="kgw-hf")
    )
    settings: dict[str, dict[str, object]] = {
        "no watermark (sampling)": sample,
        "no-op logits processor": {**sample, "logits_processor": [_noop]},
        "kgw, whole vocabulary": {
            **sample,
            "logits_processor": [WatermarkLogitsProcessor(kgw, kk)],
        },  # type: ignore[arg-type]
        "kgw, top-50 candidates": {
            **sample,
            "logits_processor": [WatermarkLogitsProcessor(kgw, kk, top_k=50)],  # type: ignore[arg-type]
        },
        "tournament (depth 30), top-50 candidates": {
            **sample,
            "logits_processor": [WatermarkLogitsProcessor(tour, tk, top_k=50)],  # type: ignore[arg-type]
        },
        "transformers WatermarkingConfig": {**sample, "watermarking_config": hf_cfg},
    }
    print(
        f"On a {params / 1e6:.0f} M-parameter Llama (hidden 1,024, 8 layers, vocabulary 32,000; "
        "random weights: the per-token cost of a small real model), batch 1, one thread, "
        f"{NEW_TOKENS} new tokens, best of {REPEATS} interleaved rounds:\n"
    )
    print("| setting | tokens/s | overhead |")
    print("|---|---:|---:|")
    rates = _rates(model, 1, settings)
    ref = rates["no watermark (sampling)"]
    for name, rate in rates.items():
        overhead = "—" if name.startswith("no watermark") else f"{(ref / rate - 1) * 100:+.1f}%"
        print(f"| {name} | {rate:,.1f} | {overhead} |")
    print()


if __name__ == "__main__":
    main()
