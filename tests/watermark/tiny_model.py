"""A tiny random-init Llama built in the test itself (no shared fixtures)."""

from __future__ import annotations

from typing import Any

PROMPT_LEN = 8


def tiny_llama(seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    # one thread: on a shared 2-core machine, torch's thread pool is 10-20x slower here
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=1024,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return LlamaForCausalLM(cfg).eval()


class ScaleLogits:
    """Multiplies logits: > 1 makes the random model's distributions peaked (low entropy)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        return scores * self.factor


def generate(
    model: Any, processors: list[Any], *, batch: int, tokens: int, seed: int, **kwargs: Any
) -> Any:
    """Generated tokens only, (batch, tokens), from random prompts; EOS cannot stop early."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(3, model.config.vocab_size, (batch, PROMPT_LEN), generator=gen)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            logits_processor=processors,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            **kwargs,
        )
    return out[:, PROMPT_LEN:]
