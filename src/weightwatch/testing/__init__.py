"""Tiny real-architecture model families for tests, benchmarks and the demo.

Everything is built locally and deterministically (no hub): a byte-level BPE tokenizer
trained on shipped licence-clean text, small Llama / GPT-2 / Qwen2 models trained for a
few seconds, and their derivatives (fine-tune, LoRA merged and unmerged, int8/int4,
pruned, merged, hidden-unit permuted, GGUF F16 and Q8_0) plus an independent base.
Needs the ``[hf]`` extra (torch, transformers, peft, tokenizers).
"""

from weightwatch.testing.family import Family, build_family, default_cache

__all__ = ["Family", "build_family", "default_cache"]
